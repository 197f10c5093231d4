"""Small helpers every blueprint uses: full page or htmx partial, safe redirects, kiosk mode."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, make_response, render_template, request

from portal.extensions import htmx

KIOSK_COOKIE = "tb_kiosk"


def render(template: str, partial: str | None = None, status: int = 200, **context):
    """Render the full page, or only `partial` when htmx asks for part of this page.

    Every URL returns a full page; htmx requests that target part of it get the partial the
    full page includes. History restores and boosted requests always get the full page.
    """
    wants_partial = (
        partial is not None and bool(htmx) and not htmx.boosted
        and not htmx.history_restore_request
    )
    response = make_response(render_template(partial if wants_partial else template, **context),
                             status)
    response.vary.add("HX-Request")
    return response


def safe_next(target: str | None, fallback: str = "/") -> str:
    """A same-site path to go back to, never another host (open-redirect safe)."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return fallback
    return target


def is_kiosk() -> bool:
    """True on a shared kiosk: the kiosk pages themselves, and any page in a browser that
    opened /kiosk/ (it carries the kiosk cookie)."""
    return request.cookies.get(KIOSK_COOKIE) == "1" or request.blueprint == "kiosk"


def kiosk_idle_seconds() -> int:
    return int(current_app.config["KIOSK_IDLE_SECONDS"])
