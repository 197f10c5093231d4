"""Search quality: the evaluation set (bench/search_eval.json, 41 queries over the demo notices)
scored for each backend — MRR@10 and how many find a wanted notice in the top 3 — with the
queries where the backends disagree.

Run: .venv/bin/python bench/search_eval.py [--postgres URL]
(URL: an expendable PostgreSQL database — it is emptied; default PORTAL_TEST_DATABASE_URL.
Without one only Whoosh on SQLite is scored.)
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVALUATION = ROOT / "bench" / "search_eval.json"


def queries() -> list[dict]:
    return json.loads(EVALUATION.read_text(encoding="utf-8"))["queries"]


def evaluate(app) -> dict:
    """Score the current app's backend on the evaluation set (the demo notices must be in).
    Returns {"mrr": …, "top3": …, "n": …, "ranks": {query: rank or None}}."""
    from portal.search import query_index
    ranks: dict[str, int | None] = {}
    with app.test_request_context():
        for case in queries():
            found = query_index(case["q"], kinds=["notice"], per_page=10)
            titles = [re.sub("<[^>]+>", "", str(h.title)) for h in found.hits]
            ranks[case["q"]] = next((n for n, t in enumerate(titles, 1) if t in case["find"]), None)
    n = len(ranks)
    return {"n": n, "ranks": ranks,
            "mrr": sum(1 / r for r in ranks.values() if r) / n,
            "top3": sum(1 for r in ranks.values() if r and r <= 3)}


def _app(database_url: str, data_dir: Path):
    from flask_migrate import upgrade

    from portal import create_app
    from portal.seed import seed_demo
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "JOBS_QUEUE": "",
                      "PORTAL_DATA_DIR": str(data_dir), "RATELIMIT_ENABLED": False,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        if database_url.startswith("postgres"):
            from sqlalchemy import text

            from portal.extensions import db
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            db.engine.dispose()
        upgrade()
        seed_demo()
        from portal.search import drain
        drain()
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("PORTAL_TEST_DATABASE_URL"))
    args = parser.parse_args()
    scored = {}
    with tempfile.TemporaryDirectory(prefix="tongban-eval-") as folder:
        backends = [("whoosh (SQLite)", f"sqlite:///{folder}/eval.db")]
        if args.postgres:
            backends.append(("postgres", args.postgres))
        for name, url in backends:
            app = _app(url, Path(folder) / name.split()[0])
            with app.app_context():
                scored[name] = evaluate(app)
    print(f"{len(queries())} queries over the demo notices\n")
    print(f"{'backend':18} {'MRR@10':>7} {'top-3':>7}")
    for name, s in scored.items():
        print(f"{name:18} {s['mrr']:7.3f} {s['top3']:4d}/{s['n']}")
    kinds: dict[str, list[str]] = {}
    for case in queries():
        kinds.setdefault(case["kind"], []).append(case["q"])
    print("\nMRR@10 by kind: " + "; ".join(
        f"{kind} " + " / ".join(f"{sum(1 / s['ranks'][q] for q in qs if s['ranks'][q]) / len(qs):.2f}"
                                 for s in scored.values()) for kind, qs in kinds.items()))
    if len(scored) == 2:
        (a, sa), (b, sb) = scored.items()
        differ = [(q, sa["ranks"][q], sb["ranks"][q]) for q in sa["ranks"]
                  if sa["ranks"][q] != sb["ranks"][q]]
        print(f"\nranks that differ ({a} / {b}): " +
              (", ".join(f"{q} {ra}/{rb}" for q, ra, rb in differ) if differ else "none"))
    missed = {name: [q for q, r in s["ranks"].items() if not r] for name, s in scored.items()}
    print("not found in the top 10: " + "; ".join(f"{n}: {', '.join(m) or 'none'}"
                                                  for n, m in missed.items()))


if __name__ == "__main__":
    main()
