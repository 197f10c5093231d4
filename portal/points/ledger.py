"""The points ledger: what a good deed earns, granted once per deed and taken back when the
deed is undone, and a person's balance as the sum of their lines.

- A deed (a source: an hour record, a wish, a civil-act report, a service order) is worth the
  points of the rule in force for its kind: per approved hour, per fulfilled wish, per verified
  civil act, per finished order; nothing while it does not (or no longer) count.
- `settle(source)` brings the ledger in line with what the source is worth now: the first time
  it counts, a grant (within the month's cap for that kind: what the cap leaves is granted, the
  rest is not, and the grant says so); when it stops counting (hours rejected later, a civil act
  withdrawn after an appeal), a reversal of what it had; when its worth changes (hours
  adjusted), a reversal and a new grant. Settling twice changes nothing.
- Every change of a person's points first locks their account row (`lock`): two grants, or a
  grant and a redemption, for the same person wait for each other, so caps and balances are
  read and written as one step, on SQLite and PostgreSQL alike.

The areas where deeds happen say so through `portal.happenings`; the receivers at the end of
this module settle the source in the same transaction as the deed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update

from portal import happenings
from portal.database import insert_ignore, write_transaction
from portal.extensions import db
from portal.points.models import SOURCES, PointAccount, PointEntry, PointRule
from portal.timeutil import to_local, utcnow


def month_of(moment: datetime) -> date:
    """The town's calendar month a UTC moment falls in (its first day)."""
    return to_local(moment).date().replace(day=1)


def rule(source: str) -> PointRule | None:
    """The rule in force for a kind of deed: the newest."""
    return db.session.scalar(select(PointRule).where(PointRule.source == source)
                             .order_by(PointRule.id.desc()).limit(1))


def rules() -> dict[str, PointRule]:
    """The rules in force, by kind of deed (in the order of SOURCES)."""
    newest = select(PointRule.source, func.max(PointRule.id)).group_by(PointRule.source)
    ids = [rule_id for _source, rule_id in db.session.execute(newest)]
    found = {r.source: r for r in db.session.scalars(select(PointRule).where(PointRule.id.in_(ids)))}
    return {source: found[source] for source in SOURCES if source in found}


def lock(user_id: int) -> PointAccount:
    """Open the person's account if need be and lock its row for this transaction."""
    insert_ignore(PointAccount, user_id=user_id, named=False, changes=0, opened_at=utcnow())
    db.session.execute(update(PointAccount).where(PointAccount.user_id == user_id)
                       .values(changes=PointAccount.changes + 1))
    return db.session.get(PointAccount, user_id, populate_existing=True)


def set_named(user_id: int, named: bool) -> None:
    """The person agrees (or no longer agrees) to be named on the public board."""
    with write_transaction():
        lock(user_id).named = named
        db.session.commit()


def balance(user_id: int) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(PointEntry.points), 0))
                             .where(PointEntry.user_id == user_id))


def history(user_id: int) -> list[PointEntry]:
    return db.session.scalars(select(PointEntry).where(PointEntry.user_id == user_id)
                              .order_by(PointEntry.id.desc())).all()


def add(user_id: int, points: int, kind: str, source_type: str, source_id: int, *,
        rule: PointRule | None = None, worth: int | None = None, note: str = "",
        now: datetime | None = None) -> PointEntry:
    """Write the next line of a source (the caller holds the person's lock)."""
    now = now or utcnow()
    seq = db.session.scalar(select(func.coalesce(func.max(PointEntry.seq), 0)).where(
        PointEntry.source_type == source_type, PointEntry.source_id == source_id)) + 1
    entry = PointEntry(user_id=user_id, points=points, kind=kind, source_type=source_type,
                       source_id=source_id, seq=seq, rule_id=rule.id if rule else None,
                       worth=worth, month=month_of(now), note=note[:200], created_at=now)
    db.session.add(entry)
    db.session.flush()
    return entry


# -- what deeds are worth ----------------------------------------------------------------------

@dataclass(frozen=True)
class Worth:
    user_id: int | None  # who earns it
    points: int  # 0: does not count (now)
    note: str  # what the deed was (the ledger's line shows it beside its kind)


def _hours(record, per_hour: int) -> Worth:
    user_id = record.volunteer.user_id
    if record.status != "approved":
        return Worth(user_id, 0, record.what)
    return Worth(user_id, round(record.minutes * per_hour / 60),
                 f"{record.what} · {record.minutes / 60:g} h")


def _wish(wish, points: int) -> Worth:
    from portal.volunteer.models import Volunteer
    volunteer = db.session.get(Volunteer, wish.claimed_by) if wish.claimed_by else None
    counts = wish.status in ("fulfilled", "thanked") and volunteer is not None
    return Worth(volunteer.user_id if volunteer else None, points if counts else 0, wish.title)


def _civil_act(report, points: int) -> Worth:
    counts = report.kind == "praise" and report.status in ("verified", "published")
    return Worth(report.reporter_id, points if counts else 0, f"#{report.id}")


def _order(order, points: int) -> Worth:
    from portal.volunteer.models import Volunteer
    volunteer = db.session.get(Volunteer, order.volunteer_id) if order.volunteer_id else None
    counts = order.status in ("done", "rated") and volunteer is not None
    return Worth(volunteer.user_id if volunteer else None, points if counts else 0,
                 order.offer.name)


WORTH = {"hours": _hours, "wish": _wish, "civil_act": _civil_act, "order": _order}


def settle(source_type: str, source, now: datetime | None = None) -> PointEntry | None:
    """Bring the source's lines in line with its worth now (module docstring). Returns the
    grant written, if any. Runs in the caller's transaction; does not commit."""
    now = now or utcnow()
    in_force = rule(source_type)
    worth = WORTH[source_type](source, in_force.points if in_force else 0)
    holder = db.session.scalar(select(PointEntry.user_id).where(
        PointEntry.source_type == source_type, PointEntry.source_id == source.id).limit(1))
    holder = holder or worth.user_id
    if holder is None:
        return None
    lock(holder)  # then read the source's lines: nobody else writes them meanwhile
    last = db.session.scalar(select(PointEntry).where(
        PointEntry.source_type == source_type, PointEntry.source_id == source.id)
        .order_by(PointEntry.seq.desc()).limit(1))
    standing = last is not None and last.kind == "grant"
    if (standing and last.worth == worth.points) or (not standing and not worth.points):
        return None  # as it should be already
    if standing:  # taken back: the deed no longer counts, or counts for another worth
        add(holder, -last.points, "reversal", source_type, source.id, note=worth.note, now=now)
    if not worth.points:
        return None
    return add(holder, _capped(holder, source_type, worth.points, in_force, now), "grant",
               source_type, source.id, rule=in_force, worth=worth.points, note=worth.note,
               now=now)


def _capped(user_id: int, source_type: str, points: int, in_force: PointRule,
            now: datetime) -> int:
    """What the month's cap for this kind of deed leaves of `points` (caller holds the lock)."""
    if in_force.monthly_cap is None:
        return points
    this_month = db.session.scalar(select(func.coalesce(func.sum(PointEntry.points), 0)).where(
        PointEntry.user_id == user_id, PointEntry.source_type == source_type,
        PointEntry.kind.in_(("grant", "reversal")), PointEntry.month == month_of(now)))
    return max(0, min(points, in_force.monthly_cap - this_month))


# -- the deeds, as they happen -------------------------------------------------------------------

@happenings.hours_decided.connect
def _on_hours(record, **_):
    settle("hours", record)


@happenings.wish_fulfilled.connect
def _on_wish(wish, **_):
    settle("wish", wish)


@happenings.order_done.connect
def _on_order(order, **_):
    settle("order", order)


@happenings.report_decided.connect
def _on_report(report, **_):
    if report.kind == "praise":
        settle("civil_act", report)
