"""A notice's body as safe HTML: Markdown (or plain paragraphs) rendered, then cleaned by
nh3 (the Rust `ammonia` sanitiser) — never a hand-written filter. Also: plain text for the
index, and the normal form of document numbers (发文字号)."""
from __future__ import annotations

import html
import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
ALLOWED_TAGS = {"p", "br", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "a", "blockquote",
                "table", "thead", "tbody", "tr", "th", "td", "hr", "code", "pre"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
_BRACKETS = str.maketrans({"[": "〔", "]": "〕", "【": "〔", "】": "〕", "(": "〔", ")": "〕",
                           "（": "〔", "）": "〕", "［": "〔", "］": "〕"})


@lru_cache(maxsize=512)
def body_html(body: str, body_format: str) -> Markup:
    """Sanitised HTML of a body (kept per content: notices are read far more than edited)."""
    if body_format == "plain":
        paragraphs = [p.strip() for p in (body or "").split("\n") if p.strip()]
        return Markup("").join(Markup("<p>") + escape(p) + Markup("</p>") for p in paragraphs)
    rendered = _MARKDOWN.render(body or "").replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return Markup(nh3.clean(rendered, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                            url_schemes={"http", "https", "mailto"},
                            link_rel="noopener noreferrer nofollow"))


def plain_text(body: str, body_format: str) -> str:
    """The body's words without markup (for the index and snippets)."""
    if body_format == "plain":
        return body or ""
    text = nh3.clean(_MARKDOWN.render(body or ""), tags=set())
    return html.unescape(re.sub(r"\s+", " ", text)).strip()


def normal_doc_number(raw: str) -> str:
    """青政发[2026]3号, 青政发（2026）3号, 青政发【2026】3号 → 青政发〔2026〕3号."""
    return "".join((raw or "").split()).translate(_BRACKETS)
