"""Template helpers: globals (preferences, kiosk), the cached layout, generic filters (days, QR
codes, file sizes), gettext, and `label_filters`, with which each area registers its labels."""
from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

import segno
from babel.dates import format_date, format_datetime, format_skeleton
from flask import current_app, g, request
from flask_babel import get_locale, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from portal.timeutil import to_local
from portal.web import elder_mode, is_kiosk, kiosk_idle_seconds, public_url

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


# One date and one date-time format per language, everywhere (a time alone is HH:mm).
DATE_PATTERNS = {"zh": "y年M月d日", "en": "d MMM y"}
MOMENT_PATTERNS = {"zh": "y年M月d日 HH:mm", "en": "d MMM y, HH:mm"}


def date_text(value, local: bool = False) -> str:
    """2026年11月30日 / 30 Nov 2026. A datetime is a stored (naive UTC) moment, or with
    `local=True` a local wall-clock time (what a resident typed)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = (value if local else to_local(value)).date()
    return _formatted(value, "date", str(get_locale() or "zh"))


def moment_text(value: datetime | None, local: bool = False) -> str:
    """2026年11月30日 15:39 / 30 Nov 2026, 15:39, in the town's time."""
    if value is None:
        return ""
    return _formatted(value if local else to_local(value), "moment", str(get_locale() or "zh"))


@lru_cache(maxsize=4096)
def _formatted(value, kind: str, locale: str) -> str:  # a queue repeats its days
    patterns = MOMENT_PATTERNS if kind == "moment" else DATE_PATTERNS
    pattern = patterns.get(locale, patterns["zh"])
    if kind == "moment":
        return format_datetime(value, pattern, locale=locale)
    return format_date(value, pattern, locale=locale)


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


def label_filters(blueprint, **mappings) -> None:
    """Template filters that show an area's labels (`{{ booking.status|booking_status }}`):
    each area registers its own on its blueprint, for every page of the site."""
    for name, mapping in mappings.items():
        blueprint.add_app_template_filter(labels(mapping), name)


def labels(mapping: dict):
    """A template filter that shows `mapping[key]` (lazy translated labels) in the page's
    language. Each label is translated once per catalogue and kept: resolving a lazy string
    costs ~20 µs, and a desk queue shows a few hundred of them."""
    cache: dict[tuple[int, object], str] = {}

    def label(key) -> str:
        index = (id(_translations()), key)
        try:
            return cache[index]
        except KeyError:
            value = mapping.get(key)
            result = cache[index] = str(value) if value is not None else str(key or "")
            return result

    return label


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


class Chrome(NamedTuple):
    head: Markup    # up to and including <title>
    header: Markup  # </title> … <main>
    footer: Markup  # </main> … </html>


_TITLE, _MAIN = "<!--chrome:title-->", "<!--chrome:main-->"
_CSRF, _NEXT = "chrome:csrf-token", "chrome:next-path"  # stand-ins for this request's values


def page_chrome() -> Chrome:
    """The layout around a page's title and content, for base.html.

    It is the same for everyone in the same variant (language, elder mode, kiosk, signed in
    and which staff links), so each worker renders a variant once and keeps it; only this
    request's CSRF token and path are put in. Rendering it on every request was the largest
    part of every page's cost (bench/booking.py).
    """
    signed_in = current_user.is_authenticated
    variant = (str(get_locale() or "zh"), elder_mode(), is_kiosk(), signed_in,
               staff_links(current_user.roles) if signed_in else (), kiosk_idle_seconds())
    cache = current_app.extensions.setdefault("tongban.chrome", {})
    parts = cache.get(variant)
    if parts is None:
        parts = cache[variant] = _render_chrome(*variant)
    csrf, path = str(escape(generate_csrf())), str(escape(request.full_path.rstrip("?")))
    return Chrome(*(Markup(p.replace(_CSRF, csrf).replace(_NEXT, path)) for p in parts))


# The staff pages a role leads to, in the header: (endpoint, label), in this order.
STAFF_LINKS = (
    (("clerk", "town_staff"), "desk.index", _l("窗口")),
    (("editor", "town_staff", "admin"), "editor.notices", _l("通知管理")),
    (("moderator",), "moderate.queue", _l("随手拍审核")),
    (("department",), "department.items", _l("交办整改")),
    (("coordinator",), "coordinate.index", _l("志愿服务管理")),
    (("partner",), "partner.index", _l("核销兑换码")),
    (("admin",), "admin.index", _l("管理")),
)


def staff_links(roles) -> tuple[int, ...]:
    """Which of STAFF_LINKS these roles see (indices: part of the layout's variant key)."""
    return tuple(n for n, (wanted, _endpoint, _label) in enumerate(STAFF_LINKS)
                 if set(wanted) & set(roles))


def _render_chrome(lang, elder, kiosk, signed_in, links, idle) -> tuple[str, str, str]:
    # Template.render, not render_template: no context processors, so nothing about the
    # person (current_user, session) can reach what is shared.
    html = current_app.jinja_env.get_template("_chrome.html").render(
        lang=lang, elder=elder, kiosk=kiosk, signed_in=signed_in,
        links=[STAFF_LINKS[n][1:] for n in links if STAFF_LINKS[n][1] in current_app.view_functions],
        idle_seconds=idle, htmx_config=HTMX_CONFIG, csrf=_CSRF, next=_NEXT,
        title_mark=Markup(_TITLE), main_mark=Markup(_MAIN))
    head, rest = html.split(_TITLE)
    header, footer = rest.split(_MAIN)
    return head, header, footer


def filesize(size: int) -> str:
    """12.3 KB, 1.2 MB."""
    if size < 1024 * 1024:
        return f"{max(size, 1) / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def register(app) -> None:
    install_fast_gettext(app)
    app.jinja_env.globals["page_chrome"] = page_chrome
    app.jinja_env.globals["public_url"] = public_url
    app.jinja_env.filters["day_label"] = day_label
    app.jinja_env.filters["date_text"] = date_text
    app.jinja_env.filters["moment"] = moment_text
    app.jinja_env.filters["qr"] = qr_data_uri
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.filters["without"] = lambda args, key: {k: v for k, v in args.items() if k != key}
    app.jinja_env.filters["from_json"] = lambda text: json.loads(text or "[]")

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
