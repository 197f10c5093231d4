"""/search: one search over notices, service guides and volunteer activities.

A real GET form (works without JavaScript); htmx swaps in the results as people type
(debounced), and the URL follows, so every state is a page that can be shared or reloaded.
"""
from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy import select

from portal.extensions import db, limiter
from portal.places.models import Town
from portal.page_cache import cached_page
from portal.search import results as search_results, service
from portal.search.documents import PROVIDERS
from portal.web import render
from portal.params import page_number

bp = Blueprint("search", __name__)
FILTERS = ("category", "agency", "year", "validity")


@bp.route("/search")
@limiter.limit("120 per minute")
@cached_page("notices", "catalogue", "volunteer", "places", extra=service.index_version,
             signed_in=True)
def index():
    """Ranked, highlighted results; filters apply to notices."""
    text = request.args.get("q", "")
    kind = request.args.get("kind", "")
    kinds = [kind] if kind in PROVIDERS else None
    filters = {name: request.args.get(name, "")[:80] for name in FILTERS
               if request.args.get(name)}
    results = search_results.query_index(text, kinds=kinds, filters=filters,
                                  page=page_number())
    return render("search/index.html", "search/_results.html", results=results,
                  kind=kind if kinds else "", filters=filters, providers=PROVIDERS,
                  latest=_latest() if not results.hits else [],
                  town=db.session.scalar(select(Town).limit(1)) if not results.hits else None,
                  choices=_filter_choices() if filters or kind == "notice" else None)


def _latest():
    from portal.notices.models import Notice
    from portal.notices.workflow import live_query
    return db.session.scalars(live_query().order_by(Notice.publish_at.desc()).limit(5)).all()


def _filter_choices() -> dict:
    from portal.notices.workflow import filter_choices
    return filter_choices()
