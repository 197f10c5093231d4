"""The portal served by real gunicorn worker processes, and a small browser for it.

SQLite's locks are per process: only several processes writing at once show whether writers
wait their turn. Used by the HTTP concurrency tests and the benches.
"""
from __future__ import annotations

import functools
import http.client
import http.cookiejar
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, data_dir, *, workers: int = 3, threads: int = 4, **config):
    """Serve the portal on a free loopback port; yields its base URL; stops it after."""
    port = free_port()
    settings = {"SECRET_KEY": "gunicorn-test", "RATELIMIT_ENABLED": False,
                "SESSION_COOKIE_SECURE": False, "PORTAL_DATA_DIR": str(data_dir),
                "DATABASE_URL": database_url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                **config}
    command = [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers),
               "--threads", str(threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
               f"portal:create_app({settings!r})"]
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ,
                                                      "PORTAL_DATA_DIR": str(data_dir)})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # it answers (even 503: the test will say what is wrong)
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError("gunicorn exited at start") from None
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class _From(urllib.request.HTTPSHandler, urllib.request.HTTPHandler):
    """Connections from a chosen loopback address (127.0.0.N): as many client addresses as
    people, as a front server sees them."""

    def __init__(self, source: str | None, context):
        urllib.request.HTTPSHandler.__init__(self, context=context)
        self.source, self.context = source, context

    def http_open(self, req):
        return self.do_open(functools.partial(http.client.HTTPConnection,
                                              source_address=(self.source, 0)), req)

    def https_open(self, req):
        return self.do_open(functools.partial(http.client.HTTPSConnection, context=self.context,
                                              source_address=(self.source, 0)), req)


class Browser:
    """A minimal HTTP client with its own cookie jar (one per simulated person); `source`:
    the loopback address it connects from, `context`: TLS settings (a test CA)."""

    def __init__(self, base: str, source: str | None = None, context=None):
        self.base = base
        handlers = [urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()]
        if source or context:
            handlers.append(_From(source or "", context))
        self.opener = urllib.request.build_opener(*handlers)
        self.headers: dict = {}  # of the last response
        self.raw = b""

    def open(self, path: str, data: bytes | None = None, headers: dict | None = None,
             timeout: float = 60) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=timeout) as response:
                self.headers, self.raw = response.headers, response.read()
                return response.status, self.raw.decode(errors="replace")
        except urllib.error.HTTPError as error:
            self.headers, self.raw = error.headers, error.read()
            return error.code, self.raw.decode(errors="replace")

    def get(self, path: str) -> str:
        status, body = self.open(path)
        assert status < 400, (path, status, body[:300])
        return body

    def token(self, path: str) -> str:
        """The CSRF token of the form on `path`."""
        found = re.search(r'name="csrf_token"[^>]*value="([^"]*)"', self.get(path))
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def post(self, path: str, data: dict, files: dict | None = None,
             headers: dict | None = None) -> int:
        """Submit a form (multipart when `files` maps field → (filename, bytes)) from its
        page, as a browser does (over HTTPS, Flask-WTF wants the page in Referer)."""
        headers = {"Referer": self.base + path, **(headers or {})}
        if files:
            body, content_type = multipart(data, files)
            return self.open(path, body, {"Content-Type": content_type, **(headers or {})})[0]
        return self.open(path, urllib.parse.urlencode(data, doseq=True).encode(), headers)[0]

    def login(self, phone: str, password: str) -> None:
        status = self.post("/login", {"csrf_token": self.token("/login"), "phone": phone,
                                      "password": password})
        assert status == 302, f"login of {phone}: {status}"


def multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, (filename, content) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     .encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
