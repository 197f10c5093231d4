"""A resident's own data: see and download it (/me/data), correct it (/me/profile), delete
the account (/me/delete)."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.accounts import sessions
from portal.accounts.forms import (CorrectionForm, DeleteAccountForm, WithdrawForm,
                                   village_choices)
from portal.extensions import db, limiter
from portal.privacy import erase, export
from portal.timeutil import local_now
from portal.web import form_status, is_kiosk, render

bp = Blueprint("mydata", __name__)


@bp.route("/me/data")
@login_required
def index():
    """What the portal holds about me, per area, with the download and the two other rights."""
    from portal.volunteer import access
    return render("mydata/index.html", held=export.held(current_user),
                  volunteer=access.volunteer_of(current_user))


@bp.route("/me/data/download")
@login_required
@limiter.limit("10 per hour")
def download():
    if is_kiosk():  # a file left on a shared machine is not the resident's copy
        flash(_("在公共服务机上不能下载个人数据，请在自己的手机或电脑上登录后下载。"), "error")
        return redirect(url_for("mydata.index"))
    data = export.build_zip(current_user._get_current_object())
    stamp = local_now().strftime("%Y%m%d")
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f"attachment; filename=tongban-my-data-{stamp}.zip",
        "Cache-Control": "no-store"})


@bp.route("/me/profile", methods=["GET", "POST"])
@login_required
def profile():
    """Correct the name, the home village and the ID number (checked again)."""
    user = current_user._get_current_object()
    form = CorrectionForm(name=user.name, village=user.village_id) if request.method == "GET" \
        else CorrectionForm()
    form.village.choices = village_choices()
    if form.validate_on_submit():
        user.name, user.village_id = form.name.data, form.village.data
        if form.remove_id_card.data:
            user.id_card = None
        elif form.id_card.data:
            user.id_card = form.id_card.data
        db.session.commit()
        flash(_("已保存。"), "success")
        return redirect(url_for("main.me"))
    return render("mydata/profile.html", form=form, saved_id=user.id_card), form_status(form)


@bp.route("/me/delete", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per hour", methods=["POST"])
def delete():
    """The confirm page says what happens; the password and a tick confirm it."""
    user = current_user._get_current_object()
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if not user.check_password(form.password.data):
            form.password.errors.append(_("密码不正确"))
        else:
            try:
                erase.delete_account(user, now=local_now())
            except erase.ErasureRefused as refused:
                form.password.errors.append(str(refused.message))
            else:
                sessions.end()  # session.clear() keeps no flash: flash after
                flash(_("账号已注销。感谢您使用通办。"), "success")
                return redirect(url_for("main.hub"))
    return render("mydata/delete.html", form=form, staff=user.is_staff), form_status(form)


@bp.route("/me/volunteer/withdraw", methods=["GET", "POST"])
@login_required
def withdraw_volunteer():
    """Withdraw the volunteer consent: the confirm page says what happens."""
    from portal.volunteer import access
    volunteer = access.volunteer_of(current_user)
    if volunteer is None:
        return redirect(url_for("volunteer.mine"))
    form = WithdrawForm()
    if form.validate_on_submit():
        given_up = erase.withdraw_volunteer(volunteer, now=local_now())
        flash(_("已撤回志愿服务同意，身份证号码等登记信息已删除；取消了 %(n)d 个活动报名。", n=given_up),
              "success")
        return redirect(url_for("mydata.index"))
    return render("mydata/withdraw.html", form=form, volunteer=volunteer), form_status(form)
