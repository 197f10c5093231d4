"""Reading numbers from a request: ids, pages, years and coordinates, ranges checked.

A number typed into a URL or forged into a form can be 22 digits long, negative, `1e309`
(infinity) or `NaN`; handed to the database or to int() it becomes an OverflowError (SQLite
integers are 64-bit, PostgreSQL `integer` columns 32-bit), i.e. a 500. Every view reads its
numbers through these helpers (and `<int:…>` in routes is bounded the same way), so none can
forget: what is out of range is simply absent (None, 0, the default).
"""
from __future__ import annotations

import math

from flask import request
from werkzeug.routing import IntegerConverter

ID_MAX = 2**31 - 1  # the largest PostgreSQL `integer`: no row id can be larger
PAGE_MAX = 10_000  # nobody pages further; a deeper page is the last one anyway
YEAR_MIN, YEAR_MAX = 1949, 2100


class BoundedInt(IntegerConverter):
    """`<int:…>` in routes: at most ID_MAX digits' worth, so a 22-digit id is a 404."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def to_int(value, low: int = 1, high: int = ID_MAX) -> int | None:
    """`value` as a whole number within [low, high], else None. Only ASCII digits count:
    full-width digits (１２) are not silently read as numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value if value is not None else "").strip()
        digits = text[1:] if text[:1] in ("+", "-") else text
        if not digits.isascii() or not digits.isdigit() or len(digits) > 12:
            return None
        number = int(text)
    return number if low <= number <= high else None


def id_or_zero(value) -> int:
    """WTForms `coerce` for a choice of row: a forged or oversized value becomes 0, which no
    row has (the form then says to choose one)."""
    return to_int(value) or 0


def id_or_error(value) -> int:
    """WTForms `coerce` for a choice of row where 0 means "none": a forged value fails the
    field ("not a valid choice")."""
    number = to_int(value, 0)
    if number is None:
        raise ValueError("not a choice")
    return number


def strip(value):
    """WTForms filter: surrounding spaces are not part of what was meant."""
    return value.strip() if isinstance(value, str) else value


def arg_id(name: str, source=None) -> int | None:
    """A row id from the query string (or `source`, e.g. request.form), or None."""
    return to_int((request.args if source is None else source).get(name))


def arg_ids(name: str, source=None) -> list[int]:
    """Every valid row id given under `name` (checkbox lists)."""
    values = (request.form if source is None else source).getlist(name)
    return [n for n in (to_int(v) for v in values) if n is not None]


def page_number(name: str = "page") -> int:
    """The page asked for, 1 … PAGE_MAX; anything else is the first page."""
    return to_int(request.args.get(name), 1, PAGE_MAX) or 1


def year(value) -> int | None:
    return to_int(value, YEAR_MIN, YEAR_MAX)


def coordinate(value, low: float, high: float) -> float | None:
    """A finite number within [low, high] (pixels, latitudes), else None."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and low <= number <= high else None
