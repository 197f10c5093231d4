"""Search over notices, service items and volunteer activities, behind one small interface:

    add_to_index(kind, id) / remove_from_index(kind, id)  — queue a change (same transaction)
    query_index(text, kinds=…, filters=…, page=…)         — ranked, highlighted hits

plus `drain`, `reindex` and `verify` for keeping the index right (service.py; querying is
results.py). The rest of the portal never imports Whoosh.
"""
from portal.search.results import Results, query_index  # noqa: F401
from portal.search.service import (  # noqa: F401
    add_to_index, drain, reindex, remove_from_index, verify, watch,
)
