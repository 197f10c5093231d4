"""Template helpers: globals (preferences, kiosk), filters (masks, days, QR codes), gettext."""
from __future__ import annotations

import json
from functools import lru_cache

import segno
from babel.dates import format_skeleton
from flask import current_app, g
from flask_babel import get_locale, get_translations
from markupsafe import Markup

from portal.accounts.models import ROLE_LABELS
from portal.accounts.validation import mask_id_card, mask_phone
from portal.booking.forms import REASON_LABELS
from portal.booking.models import HOME_VISIT_STATUS_LABELS, STATUS_LABELS
from portal.web import elder_mode, is_kiosk, kiosk_idle_seconds

# htmx 2.0 settings for a strict CSP and shared kiosks (see static/vendor/README.md).
HTMX_CONFIG = json.dumps({
    "includeIndicatorStyles": False,  # the indicator CSS ships in portal.css (no inline style)
    "allowEval": False,
    "allowScriptTags": False,
    "selfRequestsOnly": True,
    "historyCacheSize": 0,  # never snapshot pages into localStorage
    "historyRestoreAsHxRequest": False,  # history restores fetch full pages
    "refreshOnHistoryMiss": True,
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "422", "swap": True},  # validation errors re-render the form
        {"code": "429", "swap": True, "error": True},
        {"code": "[45]..", "swap": True, "error": True},
    ],
})


def day_label(day) -> str:
    """11月24日周二 / Tue, Nov 24: a day as people say it, in the page's language."""
    return _day_label(day, str(get_locale() or "zh"))


@lru_cache(maxsize=4096)
def _day_label(day, locale: str) -> str:  # Babel's formatting is slow; days repeat a lot
    return format_skeleton("MMMEd", day, locale=locale)


def qr_data_uri(text: str) -> str:
    """A QR code as an SVG data: URI (allowed by the CSP's img-src, no inline markup)."""
    return segno.make(text, error="m").svg_data_uri(scale=4, border=2)


def _translations():
    """This request's catalogue, looked up once (Flask-Babel looks it up on every call)."""
    try:
        return g.tb_translations
    except AttributeError:
        g.tb_translations = get_translations()
        return g.tb_translations


def _template_gettext(string: str, **variables) -> Markup:
    """`_()` and `gettext()` in templates, as Jinja's newstyle gettext does it (translate,
    then always %-format, escaping the variables), without its two context hops per call."""
    return Markup(_translations().ugettext(string)) % variables


def _template_ngettext(singular: str, plural: str, n: int, **variables) -> Markup:
    variables.setdefault("num", n)
    return Markup(_translations().ungettext(singular, plural, n)) % variables


def install_fast_gettext(app) -> None:
    """Templates call gettext dozens of times per page: give Jinja the cached catalogue,
    and call it directly (every template is autoescaped .html, so Markup is right)."""
    env = app.jinja_env
    env.install_gettext_callables(  # sets up the i18n extension; then the direct calls:
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
    )
    env.globals.update(_=_template_gettext, gettext=_template_gettext,
                       ngettext=_template_ngettext)


def register(app) -> None:
    install_fast_gettext(app)
    app.jinja_env.filters["day_label"] = day_label
    app.jinja_env.filters["qr"] = qr_data_uri
    app.jinja_env.filters["booking_status"] = lambda status: STATUS_LABELS.get(status, status)
    app.jinja_env.filters["visit_status"] = lambda s: HOME_VISIT_STATUS_LABELS.get(s, s)
    app.jinja_env.filters["visit_reason"] = lambda r: REASON_LABELS.get(r, r)
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["mask_id"] = mask_id_card
    app.jinja_env.filters["role_label"] = lambda role: ROLE_LABELS.get(role, role)

    @app.context_processor
    def globals_():
        return {
            "lang": str(get_locale() or "zh"),
            "elder": elder_mode(),
            "kiosk": is_kiosk(),
            "kiosk_idle_seconds": kiosk_idle_seconds(),
            "htmx_config": HTMX_CONFIG,
            "languages": current_app.config["LANGUAGES"],
        }
