"""Login throttling holds across worker processes when the limits live in Redis.

Two real processes stand in for two gunicorn workers: the first makes five wrong guesses, the
second then tries the right password from the same address. With in-memory storage each
process counts alone (the control); with Redis they share the count and the second is refused.
"""
import multiprocessing
import os

import pytest

from tests.conftest import PASSWORD, make_user

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL")


def worker_attempts(data_dir: str, database_url: str, storage: str, password: str,
                    times: int) -> list[int]:
    """Run in a fresh process: `times` login attempts, returning the status codes."""
    from pathlib import Path

    from tests.conftest import Forms, make_app
    app = make_app(Path(data_dir), database_url, RATELIMIT_STORAGE_URI=storage)
    client = app.test_client()
    codes = []
    for _ in range(times):
        token = Forms(client).token("/login")
        codes.append(client.post("/login", environ_base={"REMOTE_ADDR": "203.0.113.20"}, data={
            "csrf_token": token, "phone": "13900000055", "password": password}).status_code)
    return codes


def run_in_process(*args) -> list[int]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(worker_attempts, args)


@pytest.mark.parametrize("storage", [
    "memory://",
    pytest.param(REDIS_URL, marks=pytest.mark.skipif(
        not REDIS_URL, reason="Redis: PORTAL_TEST_REDIS_URL is not set")),
])
def test_failures_counted_in_one_worker_hold_in_another(app, database_url, tmp_path, storage):
    if storage.startswith("redis"):
        import redis
        redis.Redis.from_url(storage).flushdb()
    make_user("13900000055")
    first = run_in_process(str(tmp_path), database_url, storage, "wrong-guess", 5)
    assert first == [422] * 5
    second = run_in_process(str(tmp_path), database_url, storage, PASSWORD, 1)
    assert second == ([429] if storage.startswith("redis") else [302])
