"""Every bench still runs: each once at its smoke size (tiny data, a second of load), so a rule
change that breaks a bench breaks the suite instead of the next person who measures. The
figures themselves are not checked: they are for people, on a quiet machine."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

RUNS = {
    "pages": ["--smoke"],
    "pages county": ["--smoke", "--county"],
    "booking": ["--smoke"],
    "desk": ["--smoke"],
    "civility": ["--smoke"],
    "volunteer": ["--smoke"],
    "writes": ["--seconds", "1", "--clients", "2"],
    "search": ["--notices", "300", "--rounds", "1"],
    "operations": ["--smoke"],
    "dashboard": ["--smoke"],
    "detection": ["--count", "2", "--width", "1200"],
}


@pytest.mark.parametrize("name", RUNS)
def test_the_bench_runs(name, tmp_path):
    script = ROOT / "bench" / f"{name.split()[0]}.py"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PORTAL_DATA_DIR")}
    env["TMPDIR"] = str(tmp_path)  # its data dir, removed with the test's
    done = subprocess.run([sys.executable, str(script), *RUNS[name]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    assert done.stdout.strip(), "the bench printed no figures"
