"""The import ties run one way: from the pages that gather every area down to the areas,
and between areas only downwards (DESIGN: "Layout"). Read from the source, not guessed."""
from __future__ import annotations

import ast
from pathlib import Path

PORTAL = Path(__file__).resolve().parent.parent / "portal"

# An area may use the areas listed before it, never one after it. Areas on one step do not
# use each other.
FLOORS = [{"places"}, {"accounts"}, {"search"}, {"booking"}, {"ratings"}, {"desk"},
          {"civility", "volunteer", "notices"}, {"points"}]
# Pages that gather every area (the hub and /me/, the kiosk, the admin pages, the public
# dashboard, a resident's own data, the one search over everything) and the demo data may use
# any area's public names.
GATHERING = {"main", "kiosk", "admin", "dashboard", "privacy"}
GATHERING_MODULES = {("search", "views")}
VIEW_MODULES = {"views", "manage"}


def _floor(area: str) -> int:
    return next(n for n, floor in enumerate(FLOORS) if area in floor)


def _imports():
    """(file, importing area, its module name, imported area, imported module, names)."""
    for path in sorted(PORTAL.rglob("*.py")):
        parts = path.relative_to(PORTAL).with_suffix("").parts
        if len(parts) < 2:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                target = node.module.split(".")
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                target, names = node.names[0].name.split("."), []
            else:
                continue
            if target[0] == "portal" and len(target) > 1 and (PORTAL / target[1]).is_dir() \
                    and target[1] != parts[0]:
                modules = target[2:3] or names  # `from portal.booking import service`
                yield path, parts[0], parts[-1], target[1], modules, names


def test_the_floors_name_every_area():
    areas = {p.name for p in PORTAL.iterdir() if (p / "__init__.py").exists() or
             (p.is_dir() and any(p.glob("*.py")))} - {"translations", "__pycache__"}
    assert areas == set().union(*FLOORS) | GATHERING


def test_no_area_imports_another_areas_views_or_private_names():
    wrong = [f"{path.relative_to(PORTAL)} imports portal.{area}.{'/'.join(modules)} {names}"
             for path, _, _, area, modules, names in _imports()
             if set(modules) & VIEW_MODULES or any(n.startswith("_") for n in names)]
    assert wrong == []


def test_areas_use_only_the_floors_below():
    wrong = []
    for path, area, module, other, modules, names in _imports():
        if area in GATHERING or (area, module) in GATHERING_MODULES or module == "demo":
            continue
        if other in GATHERING or _floor(other) >= _floor(area):
            wrong.append(f"{path.relative_to(PORTAL)} ({area}) imports portal.{other} {names}")
    assert wrong == []
