"""Points, the public side: the rules, the partners and their rewards, the month's top
contributors by village (only those who agreed are named), redeeming, and `/me/points`: a
resident's ledger, balance and codes."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.extensions import db, limiter
from portal.page_cache import cached_page
from portal.points import board, ledger, rewards
from portal.points.forms import NamedForm
from portal.points.models import (ENTRY_LABELS, PARTNER_KIND_LABELS, REDEMPTION_LABELS,
                                  SOURCE_LABELS, Reward)
from portal.points.rewards import PointsRefused
from portal.templating import label_filters
from portal.timeutil import local_today, utcnow
from portal.web import render, user_key

bp = Blueprint("points", __name__)
label_filters(bp, point_source=SOURCE_LABELS, point_kind=ENTRY_LABELS,
              partner_kind=PARTNER_KIND_LABELS, redemption_status=REDEMPTION_LABELS)


def _month() -> date:
    """The month asked for (`?month=2026-11`), else this one."""
    raw = request.args.get("month", "")
    try:
        month = date.fromisoformat(f"{raw}-01") if len(raw) == 7 else None
    except ValueError:
        month = None
    this_month = local_today().replace(day=1)
    return month if month is not None and date(2020, 1, 1) <= month <= this_month else this_month


@bp.route("/points/")
@cached_page("points", "people", "places")
def index():
    """How points are earned, what they buy and where, and the month's top contributors; a
    signed-in resident also sees their balance (so their page is not shared)."""
    month = _month()
    mine = ledger.balance(current_user.id) if current_user.is_authenticated else None
    return render("points/index.html", rules=ledger.rules(), partners=rewards.partners(),
                  month=month, board=board.top_by_village(month), today=local_today(),
                  redemption_days=rewards.REDEMPTION_DAYS, balance=mine,
                  this_month=local_today().replace(day=1),
                  previous=(month - timedelta(days=1)).replace(day=1))


@bp.route("/points/rewards/<int:reward_id>/redeem", methods=["POST"])
@login_required
@limiter.limit("10 per minute", key_func=user_key)
def redeem(reward_id: int):
    """Spend points on a reward: a one-time code to show the partner."""
    reward = db.session.get(Reward, reward_id) or abort(404)
    try:
        redemption = rewards.redeem(current_user._get_current_object(), reward)
    except PointsRefused as refused:
        db.session.rollback()
        flash(str(refused.message), "error")
        return redirect(url_for("points.index") + f"#reward-{reward.id}")
    flash(_("兑换成功：到%(partner)s出示兑换码 %(code)s。", partner=reward.partner.name,
            code=redemption.code), "success")
    return redirect(url_for("points.mine") + f"#redemption-{redemption.id}")


@bp.route("/me/points")
@login_required
def mine():
    """My points: the balance, every line of the ledger, my codes, and the board opt-in."""
    me = current_user.id
    account = db.session.get(ledger.PointAccount, me)
    return render("points/mine.html", balance=ledger.balance(me), lines=ledger.history(me),
                  redemptions=rewards.of_user(me), now=utcnow(),
                  named_form=NamedForm(data={"named": bool(account and account.named)}))


@bp.route("/me/points/named", methods=["POST"])
@login_required
def named():
    """Agree (or no longer agree) to be named on the public board of top contributors."""
    form = NamedForm()
    ledger.set_named(current_user.id, bool(form.named.data))
    flash(_("已保存：积分榜上%(how)s。", how=_("显示您的姓名") if form.named.data
            else _("不显示您的姓名")), "success")
    return redirect(url_for("points.mine"))
