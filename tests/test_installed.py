"""The package as a wheel installs it (not the checkout): it serves English, its static files
and its migrations, and has its reference data."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECK = r"""
import sys
from pathlib import Path
import portal
assert Path(portal.__file__).is_relative_to(sys.argv[1]), portal.__file__
from flask_migrate import upgrade
from portal import create_app
from portal.booking.catalogue import load_catalogue
app = create_app()
with app.app_context():
    upgrade()
    load_catalogue()
client = app.test_client()
client.set_cookie("tb_lang", "en")
page = client.get("/")
assert page.status_code == 200, page.status_code
text = page.get_data(as_text=True)
assert 'lang="en"' in text and "Search" in text, text[:500]
assert client.get("/healthz").status_code == 200
script = client.get("/static/css/portal.css")
assert script.status_code == 200 and len(script.data) > 1000
print("installed package OK")
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(ROOT),
                    "-w", str(where / "dist")], check=True, timeout=300)
    wheel, = (where / "dist").glob("*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(where / "site"), str(wheel)], check=True, timeout=300)
    return where


def test_an_installed_wheel_serves_english_static_files_and_migrations(site):
    env = {**os.environ, "PYTHONPATH": str(site / "site"), "PORTAL_DATA_DIR": str(site / "data")}
    env.pop("DATABASE_URL", None)
    run = subprocess.run([sys.executable, "-c", CHECK, str(site / "site")], cwd=site, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "installed package OK" in run.stdout
