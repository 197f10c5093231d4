"""Loading the "47+N" catalogue from JSON (the demo one ships in data/service-items.json).

The file's shape: categories, then items with their guide fields and materials. Loading is idempotent: items are matched by code and updated.
"""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from portal.booking.models import Material, ServiceCategory, ServiceItem
from portal.extensions import db

DEMO_CATALOGUE = Path(__file__).resolve().parent / "data" / "service-items.json"


def load_catalogue(path: Path = DEMO_CATALOGUE) -> int:
    """Create or update every category and item of the file; returns the number of items."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    categories = {c.code: c for c in db.session.scalars(select(ServiceCategory))}
    for position, raw in enumerate(data["categories"]):
        category = categories.get(raw["code"]) or ServiceCategory(code=raw["code"])
        category.name, category.position = raw["name"], position
        db.session.add(category)
    items = {i.code: i for i in db.session.scalars(select(ServiceItem))}
    for position, raw in enumerate(data["items"]):
        item = items.get(raw["code"]) or ServiceItem(code=raw["code"])
        item.name, item.category_code, item.position = raw["name"], raw["category"], position
        item.standard, item.handling = raw["standard"], raw["handling"]
        item.time_limit_days, item.fee = raw["time_limit_days"], raw["fee"]
        item.conditions, item.legal_basis = raw["conditions"], raw.get("legal_basis", "")
        item.home_visit, item.proxy_allowed = raw["home_visit"], raw["proxy_allowed"]
        _materials(item, raw["materials"])
        db.session.add(item)
    db.session.commit()
    return len(data["items"])


def _materials(item: ServiceItem, raws: list[dict]) -> None:
    """Update the item's materials in place (the desk's checklists refer to them by id);
    new ones are added, and ones the file no longer lists are removed."""
    for n, raw in enumerate(raws):
        if n == len(item.materials):
            item.materials.append(Material(position=n, name=raw["name"]))
        material = item.materials[n]
        values = dict(position=n, name=raw["name"], form=raw["form"], copies=raw["copies"],
                      note=raw.get("note", ""))
        for name, value in values.items():
            if getattr(material, name) != value:
                setattr(material, name, value)
    del item.materials[len(raws):]
