"""What can be found: each area registers a provider that turns its objects into index
documents and search hits. The search package never imports the areas."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HitInfo:
    """How a found object is shown: its page, title, the text a snippet is cut from, and
    short facts (date, agency, validity …)."""

    title: str
    url: str
    text: str
    facts: tuple[str, ...] = ()
    expired: bool = False


@dataclass(frozen=True)
class Provider:
    kind: str
    label: object  # a lazy string: 通知, 办事指南, 志愿活动
    # Objects that should be in the index now (a SELECT of the model), and one by its id.
    live: Callable[[], object]
    get: Callable[[str], object | None]
    load: Callable[[list[str]], dict[str, object]]
    document: Callable[[object], dict]
    hit: Callable[[object], HitInfo]
    object_id: Callable[[object], str] = field(default=lambda obj: str(obj.id))
    # Database fallback while the index is rebuilt: objects whose text contains the words.
    fallback: Callable[[list[str], int], list[object]] | None = None


PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> None:
    PROVIDERS[provider.kind] = provider


def key(kind: str, object_id: object) -> str:
    return f"{kind}:{object_id}"


def finish(doc: dict) -> dict:
    """Add the version: a hash of everything indexed, so `verify` can spot stale entries."""
    body = json.dumps(doc, ensure_ascii=False, sort_keys=True, default=str)
    return {**doc, "version": hashlib.sha1(body.encode()).hexdigest()[:16]}


def documents(kinds: Iterable[str] | None = None):
    """Every live object of every provider as an index document (for a rebuild)."""
    from portal.extensions import db
    for kind in kinds or PROVIDERS:
        provider = PROVIDERS[kind]
        for obj in db.session.scalars(provider.live()).yield_per(500):
            yield provider.document(obj)
