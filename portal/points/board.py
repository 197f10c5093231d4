"""The month's top contributors by village, for the public board: the points earned that month
(grants less reversals; spending does not count), only people who agreed named."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from portal.accounts.models import User
from portal.extensions import db
from portal.places.models import Village
from portal.points.models import PointAccount, PointEntry

PER_VILLAGE = 5


@dataclass
class VillageBoard:
    village: Village
    named: list[tuple[str, int]] = field(default_factory=list)  # (name, points), best first
    people: int = 0  # everyone who earned points there this month, named or not
    points: int = 0


def top_by_village(month: date) -> list[VillageBoard]:
    """Villages with contributors in `month` (first day), in the town's order."""
    earned = (select(PointEntry.user_id, func.sum(PointEntry.points).label("points"))
              .where(PointEntry.month == month, PointEntry.kind.in_(("grant", "reversal")))
              .group_by(PointEntry.user_id).having(func.sum(PointEntry.points) > 0).subquery())
    rows = db.session.execute(
        select(User.village_id, User.name, earned.c.points, PointAccount.named)
        .join(earned, earned.c.user_id == User.id)
        .outerjoin(PointAccount, PointAccount.user_id == User.id)
        .where(User.village_id.is_not(None))
        .order_by(earned.c.points.desc(), User.id)).all()
    boards: dict[int, VillageBoard] = {}
    villages = {v.id: v for v in db.session.scalars(select(Village).where(
        Village.id.in_({r.village_id for r in rows})))}
    for village_id, name, points, named in rows:
        entry = boards.setdefault(village_id, VillageBoard(villages[village_id]))
        entry.people += 1
        entry.points += points
        if named and len(entry.named) < PER_VILLAGE:
            entry.named.append((name, points))
    return sorted(boards.values(), key=lambda b: (b.village.town_id, b.village.position,
                                                  b.village.id))
