"""Template helpers: globals (preferences, kiosk), filters (masks, days, QR codes), gettext."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import NamedTuple

import segno
from babel.dates import format_skeleton
from flask import current_app, g, request
from flask_babel import get_locale, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from portal.accounts.models import ROLE_LABELS
from portal.accounts.validation import mask_id_card, mask_phone
from portal.booking.forms import REASON_LABELS
from portal.booking.models import (CHANNEL_LABELS, EVENT_LABELS, HOME_VISIT_STATUS_LABELS,
                                   STATUS_LABELS)
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


STEP_LABELS = {"callback": _l("回访"), "rectify": _l("整改"), "reply": _l("答复居民")}
STEP_HINTS = {"callback": _l("电话联系居民，了解不满意的原因，记下居民说的情况。"),
              "rectify": _l("写明整改了什么、由谁负责。"),
              "reply": _l("写给居民的答复，会作为消息发给居民。")}


def register_desk_filters(app) -> None:
    from portal.desk.workflow import ACTION_LABELS, RELATION_LABELS
    app.jinja_env.filters["action_label"] = labels(ACTION_LABELS)
    app.jinja_env.filters["relation_label"] = labels(RELATION_LABELS)
    app.jinja_env.filters["step_label"] = labels(STEP_LABELS)
    app.jinja_env.filters["step_hint"] = labels(STEP_HINTS)


def filesize(size: int) -> str:
    """12.3 KB, 1.2 MB."""
    if size < 1024 * 1024:
        return f"{max(size, 1) / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def register_notice_filters(app) -> None:
    from portal.notices.models import STATUS_LABELS as NOTICE_STATUS, VALIDITY_LABELS
    app.jinja_env.filters["notice_status"] = labels(NOTICE_STATUS)
    app.jinja_env.filters["validity_label"] = labels(VALIDITY_LABELS)
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.filters["without"] = lambda args, key: {k: v for k, v in args.items() if k != key}


CIVILITY_EVENTS = {
    "submit": _l("已提交"), "verify": _l("文明办已核实"), "reject": _l("未采用"), "merge": _l("已合并"),
    "publish": _l("已公开"), "rectify_start": _l("责任部门开始整改"), "rectify_finish": _l("整改完成"),
    "appeal": _l("收到申诉"), "appeal_upheld": _l("申诉处理：维持"),
    "appeal_corrected": _l("申诉处理：已更正"), "appeal_withdrawn": _l("申诉处理：已撤下"),
    "withdraw": _l("已撤下"),
    "purge": _l("照片和定位已按保存期限删除"),
}


def register_civility_filters(app) -> None:
    from portal.civility.models import (APPEAL_LABELS, KIND_LABELS, RECTIFICATION_LABELS,
                                        STATUS_LABELS as REPORT_STATUS)
    app.jinja_env.filters["report_kind"] = labels(KIND_LABELS)
    app.jinja_env.filters["report_status"] = labels(REPORT_STATUS)
    app.jinja_env.filters["rectification_label"] = labels(RECTIFICATION_LABELS)
    app.jinja_env.filters["appeal_status"] = labels(APPEAL_LABELS)
    app.jinja_env.filters["civility_event"] = labels(CIVILITY_EVENTS)
    app.jinja_env.filters["from_json"] = lambda text: json.loads(text or "[]")


STEP_ACTIONS = {"posted": _l("提交心愿"), "screened": _l("审核通过，登上心愿墙"),
                "rejected": _l("未通过审核"), "claimed": _l("已认领"), "fulfilled": _l("心愿已实现"),
                "thanked": _l("心愿人致谢"), "withdrawn": _l("已撤回"), "ordered": _l("居民点单"),
                "dispatched": _l("派单给团队"), "accepted": _l("志愿者接单"), "done": _l("服务完成"),
                "rated": _l("居民评价"), "cancelled": _l("已取消")}
HOUR_ACTIONS = {"recorded": _l("记录"), "approved": _l("认定"), "adjusted": _l("调整后认定"),
                "rejected": _l("不认定")}


def register_volunteer_filters(app) -> None:
    from portal.volunteer import models as m
    from portal.volunteer.hours import hours_text
    filters = app.jinja_env.filters
    filters["skill_label"] = labels(m.SKILL_LABELS)
    filters["availability_label"] = labels(m.AVAILABILITY_LABELS)
    filters["gender_label"] = labels(m.GENDER_LABELS)
    filters["signup_status"] = labels(m.SIGNUP_LABELS)
    filters["hour_status"] = labels(m.HOUR_LABELS)
    filters["hour_action"] = labels(HOUR_ACTIONS)
    filters["wish_status"] = labels(m.WISH_LABELS)
    filters["order_status"] = labels(m.ORDER_LABELS)
    filters["volunteer_step"] = labels(STEP_ACTIONS)
    filters["hours"] = hours_text


def register(app) -> None:
    install_fast_gettext(app)
    app.jinja_env.globals["page_chrome"] = page_chrome
    app.jinja_env.globals["public_url"] = public_url
    app.jinja_env.filters["day_label"] = day_label
    app.jinja_env.filters["qr"] = qr_data_uri
    app.jinja_env.filters["booking_status"] = labels(STATUS_LABELS)
    app.jinja_env.filters["visit_status"] = labels(HOME_VISIT_STATUS_LABELS)
    app.jinja_env.filters["visit_reason"] = labels(REASON_LABELS)
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["mask_id"] = mask_id_card
    app.jinja_env.filters["role_label"] = labels(ROLE_LABELS)
    app.jinja_env.filters["channel_label"] = labels(CHANNEL_LABELS)
    app.jinja_env.filters["event_label"] = labels(EVENT_LABELS)
    register_desk_filters(app)
    register_notice_filters(app)
    register_civility_filters(app)
    register_volunteer_filters(app)

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
