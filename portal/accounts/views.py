"""Register, log in, log out, change the password, end the other sessions."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from portal.accounts import sessions, throttle
from portal.accounts import verification
from portal.accounts.forms import (LoginForm, MessageSettingsForm, PasswordChangeForm,
                                   PhoneCodeForm, RegisterForm, village_choices)
from portal.accounts.models import User
from portal.accounts.validation import password_problem
from portal.database import release_lock
from portal.extensions import client_address, db, limiter
from portal.places.models import Village
from portal.web import attempted, cookies_secure, form_status, is_kiosk, render, safe_next
from portal.accounts.models import ROLE_LABELS
from portal.accounts.validation import mask_id_card, mask_phone
from portal.templating import label_filters

bp = Blueprint("accounts", __name__)
label_filters(bp, role_label=ROLE_LABELS)
bp.add_app_template_filter(mask_phone, "mask_phone")
bp.add_app_template_filter(mask_id_card, "mask_id")


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    """Create a resident account and sign it in."""
    if current_user.is_authenticated:
        return redirect(url_for("main.me"))
    form = RegisterForm()
    form.village.choices = village_choices()
    if form.validate_on_submit():
        user = User(phone=form.phone.data, name=form.name.data, id_card=form.id_card.data or None)
        release_lock()  # the hash is slow on purpose: other writers need not wait for it
        user.set_password(form.password.data)
        if db.session.scalar(select(User.id).where(User.phone == form.phone.data)):
            form.phone.errors.append(_("这个手机号码已经注册，请直接登录"))
        else:
            user.village = db.session.get(Village, form.village.data)
            db.session.add(user)
            try:
                db.session.commit()
            except IntegrityError:  # the same number registered a moment ago
                db.session.rollback()
                form.phone.errors.append(_("这个手机号码已经注册，请直接登录"))
            else:
                sessions.start(user, kiosk=is_kiosk())
                flash(_("注册成功，欢迎使用通办。"), "success")
                return redirect(safe_next(request.args.get("next"), url_for("main.me")))
    return render("accounts/register.html", form=form), form_status(form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("60 per minute", methods=["POST"])
def login():
    """Sign in with phone number and password; repeated failures are slowed down."""
    form = LoginForm()
    kiosk = is_kiosk()
    if kiosk:
        del form.remember  # a shared screen never keeps anyone signed in
    status = 200
    if form.validate_on_submit():
        phone, address = form.phone.data, client_address()
        user = db.session.scalar(select(User).where(User.phone == phone))
        known = throttle.is_known_device(user.id if user else None)
        wait = throttle.wait_seconds(phone, address, known)
        if wait:
            form.form_errors.append(_("登录尝试次数过多，请 %(m)d 分钟后再试。忘记密码可到镇政务服务中心重置。",
                                      m=max(1, (wait + 59) // 60)))
            status = 429
        elif not _password_right(user, form.password.data):
            throttle.record_failure(phone, address, known)
            form.form_errors.append(_("手机号码或密码不正确"))
            status = 422
        else:
            throttle.record_success(phone, address)
            sessions.start(user, remember=bool(form.remember and form.remember.data), kiosk=kiosk)
            response = redirect(safe_next(request.args.get("next"), url_for("main.me")))
            if not kiosk:
                response.set_cookie(throttle.DEVICE_COOKIE, throttle.remember_device(user.id),
                                    max_age=throttle.DEVICE_MAX_AGE, httponly=True,
                                    samesite="Lax", secure=cookies_secure())
            return response
    elif form.errors:
        status = 422
    return render("accounts/login.html", form=form), status


def _password_right(user: User | None, password: str) -> bool:
    """Checked without holding the database: the hash takes a tenth of a second on purpose."""
    stored = user.password_hash if user is not None and user.active else None
    release_lock()
    return stored is not None and check_password_hash(stored, password)


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session on the server too, so a copied cookie no longer works."""
    sessions.end()
    flash(_("您已安全退出。"), "success")
    return redirect(url_for("kiosk.home") if is_kiosk() else url_for("main.hub"))


@bp.route("/me/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change the password; every other signed-in browser is signed out."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            form.current.errors.append(_("当前密码不正确"))
        elif problem := password_problem(form.password.data, phone=current_user.phone,
                                         name=current_user.name):
            form.password.errors.append(problem)
        else:
            current_user.set_password(form.password.data)
            db.session.commit()
            sessions.end_others(current_user)
            sessions.rotate(current_user._get_current_object())  # this browser: a new session id
            flash(_("密码已修改，其他设备上的登录已全部退出。"), "success")
            return redirect(url_for("main.me"))
    return render("accounts/password.html", form=form), form_status(form)


@bp.route("/me/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():
    """Sign out every other browser (a lost phone, a forgotten kiosk)."""
    count = sessions.end_others(current_user)
    flash(_("已退出其他 %(n)d 处登录。", n=count), "success")
    return redirect(url_for("main.me"))


@bp.route("/me/messages", methods=["GET", "POST"])
@login_required
def message_settings():
    """E-mail address, the language of messages, and whether to get the optional ones."""
    user = current_user._get_current_object()
    form = MessageSettingsForm(obj=user, locale=user.locale or "zh") if request.method == "GET" \
        else MessageSettingsForm()
    if form.validate_on_submit():
        user.email = form.email.data or None
        user.locale, user.optional_messages = form.locale.data, form.optional_messages.data
        db.session.commit()
        flash(_("已保存。"), "success")
        return redirect(url_for("main.me"))
    return render("accounts/messages.html", form=form), form_status(form)


@bp.route("/me/phone", methods=["GET", "POST"])
@login_required
@limiter.limit("30 per hour", methods=["POST"])
def verify_phone():
    """Prove the phone number: type back the code sent to it by SMS."""
    user = current_user._get_current_object()
    form = PhoneCodeForm()
    if form.validate_on_submit():
        try:
            verification.confirm(user, form.code.data)
        except verification.VerifyRefused as refused:
            db.session.rollback()
            form.code.errors.append(refused.message)
        else:
            flash(_("手机号码已验证。"), "success")
            return redirect(url_for("main.me"))
    return render("accounts/phone.html", form=form, user=user), form_status(form)


@bp.route("/me/phone/code", methods=["POST"])
@login_required
@limiter.limit("5 per hour")
def send_phone_code():
    """Send a verification code by SMS to the account's phone."""
    user = current_user._get_current_object()

    def step():
        verification.send_code(user)
        return _("验证码已发送到 %(phone)s，10分钟内有效。", phone=mask_phone(user.phone))
    return attempted(step, url_for("accounts.verify_phone"))
