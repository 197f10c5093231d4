"""Points, the staff side: partners confirm codes, keep their rewards and download what to
settle (`partner`: a partner account, bound to its partner; an admin may act for any); admins
keep the rules and the partners (`points_admin`). Every change is audited."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from portal import audit, exports
from portal.extensions import db, limiter
from portal.params import arg_id
from portal.points import ledger, rewards
from portal.points.forms import CodeForm, MonthForm, PartnerForm, RewardForm, RuleForm
from portal.points.models import (PARTNER_KIND_LABELS, REDEMPTION_LABELS, SOURCE_LABELS, Partner,
                                  PointRule, Redemption, Reward)
from portal.security import staff_only
from portal.templating import label_filters
from portal.timeutil import local_today, to_utc
from portal.web import attempt, form_status, render, user_key

partner = Blueprint("partner", __name__, url_prefix="/partner")
staff_only(partner, "partner", "admin")
label_filters(partner, redemption_status=REDEMPTION_LABELS, point_source=SOURCE_LABELS)
points_admin = Blueprint("points_admin", __name__, url_prefix="/admin/points")
staff_only(points_admin, "admin")
label_filters(points_admin, point_source=SOURCE_LABELS, partner_kind=PARTNER_KIND_LABELS)


# -- a partner at work -------------------------------------------------------------------------

def _partner() -> Partner:
    """The partner this account acts for: its own; an admin names one (`?partner=`)."""
    me = current_user._get_current_object()
    partner_id = me.partner_id if me.has_role("partner") and me.partner_id else (
        arg_id("partner") if me.has_role("admin") else None)
    found = db.session.get(Partner, partner_id) if partner_id else None
    if found is None:
        abort(404)
    g.partner = found
    return found


def _here(found: Partner, endpoint: str = "partner.index", **values) -> str:
    """A partner page's URL: an admin's keeps naming the partner it acts for."""
    admin = not current_user.has_role("partner")
    return url_for(endpoint, partner=found.id if admin else None, **values)


@partner.context_processor
def _links() -> dict:
    if "partner" not in g:
        return {}
    return {"here": lambda endpoint, **values: _here(g.partner, endpoint, **values),
            "month": local_today().strftime("%Y-%m")}


@partner.route("/")
def index():
    """Take a code (typed, or a scanner types the QR), and what was taken lately."""
    found = _partner()
    recent = db.session.scalars(select(Redemption).where(
        Redemption.partner_id == found.id, Redemption.status == "spent")
        .order_by(Redemption.spent_at.desc()).limit(20)).all()
    waiting = db.session.scalar(select(func.count()).select_from(Redemption).where(
        Redemption.partner_id == found.id, Redemption.status == "issued"))
    return render("partner/index.html", partner=found, form=CodeForm(), recent=recent,
                  waiting=waiting)


@partner.route("/confirm", methods=["POST"])
@limiter.limit("120 per hour", key_func=user_key)
def confirm():
    """The code is spent: the reward is handed over, once."""
    found = _partner()
    form = CodeForm()
    if not form.validate_on_submit():
        flash(_("请输入或扫描兑换码。"), "error")
        return redirect(_here(found))
    attempt(lambda: _said(rewards.confirm(form.code.data, found, current_user.id)))
    return redirect(_here(found))


def _said(redemption: Redemption) -> str:
    return _("已核销：%(reward)s（%(points)d积分），兑换码 %(code)s。请把物品交给居民。",
             reward=redemption.reward.name, points=redemption.points, code=redemption.code)


@partner.route("/rewards", methods=["GET", "POST"])
def reward_list():
    """The partner's rewards: add one, see stock and validity."""
    found = _partner()
    form = RewardForm()
    if form.validate_on_submit():
        reward = Reward(partner_id=found.id)
        _fill(reward, form)
        db.session.add(reward)
        db.session.flush()
        audit.record("points.reward_add", reward, partner=found.id, points=reward.points,
                     stock=reward.stock)
        db.session.commit()
        flash(_("已上架“%(name)s”。", name=reward.name), "success")
        return redirect(_here(found, "partner.reward_list"))
    if request.method == "GET":
        form.valid_until.data = local_today() + timedelta(days=90)
    return render("partner/rewards.html", partner=found, form=form,
                  items=db.session.scalars(select(Reward).where(Reward.partner_id == found.id)
                                           .order_by(Reward.id)).all()), form_status(form)


def _fill(reward: Reward, form: RewardForm) -> None:
    reward.name, reward.description = form.name.data, form.description.data or ""
    reward.points, reward.stock = form.points.data, form.stock.data
    reward.valid_until, reward.active = form.valid_until.data, form.active.data


@partner.route("/rewards/<int:reward_id>", methods=["GET", "POST"])
def reward_edit(reward_id: int):
    """Change a reward: stock, points, validity, on offer or not."""
    found = _partner()
    reward = db.session.get(Reward, reward_id)
    if reward is None or reward.partner_id != found.id:
        abort(404)
    form = RewardForm(obj=reward)
    if form.validate_on_submit():
        before = {"points": reward.points, "stock": reward.stock, "active": reward.active}
        _fill(reward, form)
        audit.record("points.reward_edit", reward, before=before, points=reward.points,
                     stock=reward.stock, active=reward.active)
        db.session.commit()
        flash(_("已保存“%(name)s”。", name=reward.name), "success")
        return redirect(_here(found, "partner.reward_list"))
    return render("partner/reward.html", partner=found, form=form, reward=reward), \
        form_status(form)


@partner.route("/redemptions.<any(csv, xlsx):kind>")
def settlement(kind: str):
    """The codes taken in a month (`?month=2026-11`), for settling with the town."""
    found = _partner()
    form = MonthForm(request.args)
    try:
        first = date.fromisoformat(f"{form.month.data}-01") if form.month.data else None
    except ValueError:
        first = None
    if first is None or not date(2020, 1, 1) <= first <= date(2100, 1, 1):
        first = local_today().replace(day=1)  # none asked, or none there could be
    following = (first + timedelta(days=32)).replace(day=1)
    rows = rewards.settlement_rows(found, to_utc(datetime.combine(first, datetime.min.time())),
                                   to_utc(datetime.combine(following, datetime.min.time())))
    header = [_("兑换码"), _("兑换项目"), _("积分"), _("兑换时间"), _("核销时间")]
    audit.record("points.settlement", found, month=f"{first:%Y-%m}", kind=kind, rows=len(rows))
    db.session.commit()
    return exports.download([header] + rows, kind, f"tongban-points-{found.id}-{first:%Y%m}",
                            title=f"{first:%Y-%m}")


# -- the admin: rules and partners -------------------------------------------------------------

@points_admin.route("/", methods=["GET", "POST"], endpoint="index")
def rules_and_partners():
    """The rules in force and every rule there has been; the partners."""
    form = RuleForm(prefix="rule")
    if form.validate_on_submit():
        rule = PointRule(source=form.source.data, points=form.points.data,
                         monthly_cap=form.monthly_cap.data, note=form.note.data or "",
                         created_by=current_user.id)
        db.session.add(rule)
        db.session.flush()
        audit.record("points.rule", rule, source=rule.source, points=rule.points,
                     monthly_cap=rule.monthly_cap)
        db.session.commit()
        flash(_("新规则已生效：之后获得的积分按新规则计算，以前的记录不变。"), "success")
        return redirect(url_for("points_admin.index"))
    history = db.session.scalars(select(PointRule).order_by(PointRule.id.desc())).all()
    every = db.session.scalars(select(Partner).order_by(Partner.name)).all()
    return render("points_admin/index.html", form=form, rules=ledger.rules(), history=history,
                  partners=every, partner_form=PartnerForm(prefix="partner")), form_status(form)


@points_admin.route("/partners", methods=["POST"])
@points_admin.route("/partners/<int:partner_id>", methods=["GET", "POST"])
def partner_edit(partner_id: int | None = None):
    """Add a partner, or change one (name, kind, address, phone, taking points or not)."""
    found = db.get_or_404(Partner, partner_id) if partner_id else None
    form = PartnerForm(prefix="partner", obj=found)
    if form.validate_on_submit():
        taken = db.session.scalar(select(Partner.id).where(Partner.name == form.name.data))
        if taken is not None and taken != (found.id if found else None):
            form.name.errors.append(_("已有同名的合作商家。"))
        else:
            if found is None:
                found = Partner()
                db.session.add(found)
            form.populate_obj(found)
            db.session.flush()
            audit.record("points.partner", found, name=found.name, active=found.active)
            db.session.commit()
            flash(_("已保存“%(name)s”。给商家的工作人员账号设“合作商家”角色，他就可以核销兑换码。",
                    name=found.name), "success")
            return redirect(url_for("points_admin.index"))
    return render("points_admin/partner.html", form=form, partner=found), form_status(form)
