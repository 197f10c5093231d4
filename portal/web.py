"""Small helpers every blueprint uses: full page or htmx partial, safe redirects, kiosk mode."""
from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import (
    Request,
    current_app,
    flash,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import ImmutableMultiDict

from portal.extensions import db, htmx
from portal.refused import Refused

# Cookies that outlive a login: the kiosk flag on a shared screen, and the language and
# elder-mode preferences (kept across logins; cleared by the kiosk reset).
KIOSK_COOKIE = "tb_kiosk"
LANG_COOKIE = "tb_lang"
ELDER_COOKIE = "tb_elder"


class _WithoutNul(ImmutableMultiDict):
    """Query and form values with NUL characters removed: they mean nothing in text, and
    PostgreSQL refuses them (a 500 for a stray %00 in a link)."""

    def __init__(self, mapping=None):
        if mapping is not None and not isinstance(mapping, dict):
            mapping = [(k.replace("\x00", "") if isinstance(k, str) else k,
                        v.replace("\x00", "") if isinstance(v, str) else v) for k, v in mapping]
        super().__init__(mapping)


class PortalRequest(Request):
    parameter_storage_class = _WithoutNul


def render(template: str, partial: str | None = None, /, **context):
    """Render the full page, or only `partial` when htmx asks for part of this page.

    Every URL returns a full page; htmx requests that target part of it get the partial the
    full page includes. History restores and boosted requests always get the full page.
    Every keyword is a template variable (`template` and `partial` are positional-only), so
    no variable can become the HTTP status: a view sets that as Flask does,
    `return render(...), 422`.
    """
    wants_partial = (
        partial is not None and bool(htmx) and not htmx.boosted
        and not htmx.history_restore_request
    )
    response = make_response(render_template(partial if wants_partial else template, **context))
    response.vary.add("HX-Request")
    return response


def attempt(step, done=None) -> bool:
    """Run a domain step for a button: its refusal is rolled back and shown as an error,
    else `done` (or what the step returned) as a success. True when it went through."""
    try:
        result = step()
    except Refused as refused:
        db.session.rollback()
        flash(str(refused.message), "error")
        return False
    if text := str(done if done is not None else result or ""):
        flash(text, "success")
    return True


def attempted(step, back: str, done=None):
    """`attempt(step, done)`, then back to the page the button was on."""
    attempt(step, done)
    return redirect(back)


def refusal(refused, back: str):
    """A refusal caught by a view that goes on with the step's result otherwise: shown as
    an error, back to the page the button was on."""
    db.session.rollback()
    flash(str(refused.message), "error")
    return redirect(back)


def form_status(form) -> int:
    """422 when a submitted form has errors (htmx swaps it, see templating.HTMX_CONFIG)."""
    return 422 if form.errors else 200


def public_url(endpoint: str, **values) -> str:
    """An absolute URL for links that leave the page (the feed, QR codes, messages): built on
    the configured PUBLIC_BASE_URL, never on the request's Host header, which anyone can set."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for(endpoint, **values)


def cookies_secure() -> bool:
    """Our own cookies (language, elder mode, kiosk, known device) are Secure like the
    session cookie: everywhere except debug and tests, which run on plain http."""
    return bool(current_app.config["SESSION_COOKIE_SECURE"])


def preferred_language() -> str:
    """The language chosen with the switch, else Chinese (also outside requests: the CLI)."""
    if not has_request_context():
        return "zh"
    lang = request.cookies.get(LANG_COOKIE)
    return lang if lang in current_app.config["LANGUAGES"] else "zh"


def elder_mode() -> bool:
    return request.cookies.get(ELDER_COOKIE) == "1"


def safe_next(target: str | None, fallback: str = "/") -> str:
    """A same-site path to go back to, never another host (open-redirect safe), and never
    with control, format or space characters (a newline cannot go into a Location header)."""
    if not target or len(target) > 2000 or any(
            c.isspace() or unicodedata.category(c)[0] == "C" for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return fallback
    return target


def user_key() -> str:
    """A rate-limit key per account, not per address: a kiosk serves a whole village from one
    address. (Routes that use it require a login.)"""
    from flask_login import current_user
    return f"user:{current_user.id}" if current_user.is_authenticated else "anonymous"


def is_kiosk() -> bool:
    """True on a shared kiosk: the kiosk pages themselves, and any page in a browser that
    opened /kiosk/ (it carries the kiosk cookie)."""
    return request.cookies.get(KIOSK_COOKIE) == "1" or request.blueprint == "kiosk"


def kiosk_idle_seconds() -> int:
    return int(current_app.config["KIOSK_IDLE_SECONDS"])


# Endpoints that take several photos: a larger request is allowed there, so that a photo too
# big for its own limit gets a message on the form instead of the whole report being lost.
LARGE_UPLOADS = {"civility.report": 48 * 1024 * 1024, "department.rectify": 16 * 1024 * 1024}


def allow_large_uploads(app) -> None:
    """Raise the request size limit for LARGE_UPLOADS before anything reads the form (the
    CSRF check does, in an earlier before_request): this one is put first."""
    def raise_limit():
        limit = LARGE_UPLOADS.get(request.endpoint or "")
        if limit:
            request.max_content_length = limit

    app.before_request_funcs.setdefault(None, []).insert(0, raise_limit)
