"""Security headers, caching of personal pages, and the role guard for staff blueprints."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, make_response, redirect, request, url_for
from flask_login import current_user

from portal.extensions import htmx
from portal.web import cookies_secure, is_kiosk

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


HSTS = "max-age=31536000; includeSubDomains"


def register_security_headers(app) -> None:
    @app.after_request
    def add_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Permissions-Policy"] = "geolocation=(), microphone=(), camera=()"
        if cookies_secure():  # production is https only (not debug, not tests on plain http)
            response.headers["Strict-Transport-Security"] = HSTS
        if request.endpoint == "static":
            return response
        # Pages for a signed-in person or on a shared kiosk are never stored anywhere, so
        # the next person at the kiosk cannot press Back into someone else's page.
        if current_user.is_authenticated or is_kiosk():
            response.headers["Cache-Control"] = "no-store"
        else:
            response.headers.setdefault("Cache-Control", "no-cache")
        response.vary.add("Cookie")
        return response


def staff_only(blueprint: Blueprint, *roles: str) -> None:
    """Guard every route of `blueprint`: anonymous → login, signed in without a role → 403.

    The roles are recorded on the blueprint so tests can walk `app.url_map` and prove the
    guard on every staff route.
    """
    blueprint.staff_roles = frozenset(roles)

    @blueprint.before_request
    def guard():
        if not current_user.is_authenticated:
            if htmx and request.method == "GET":
                # A background refresh after the session ended: the whole page goes to the
                # login (the queue leaves the screen), and comes back to where it was.
                back = urlsplit(htmx.current_url or request.full_path)
                response = make_response("", 200)
                response.headers["HX-Redirect"] = url_for(
                    "accounts.login", next=back.path + (f"?{back.query}" if back.query else ""))
                return response
            if request.method == "GET":
                return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
            abort(403)
        if not current_user.has_role(*roles):
            abort(403)
        return None
