"""Configuration: defaults, then the environment (and `.env`), then a test mapping.

Everything a deployment may change is named in DESIGN.md §3: PORTAL_DATA_DIR, DATABASE_URL,
SECRET_KEY, RATELIMIT_STORAGE_URI, PORTAL_DATA_KEY(_FILE) and the PORTAL_<NAME> settings below. The
data dir holds what must never be committed: the SQLite database, the generated secret key, the
key file (keys/), uploads and the search index.
"""
from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

PACKAGE = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE.parent


# Where .env and the default data folder (instance/) are: the checkout, or for an installed
# package the folder it is started from.
HOME = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd()


def asset_dir(name: str) -> Path:
    """templates, static or migrations: inside the package when installed from a wheel
    (setup.py puts them there), at the top of the checkout otherwise."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PROJECT_ROOT / name




class Defaults:
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True  # switched off only in debug and tests
    SESSION_COOKIE_NAME = "tb_session"
    # A signed-in resident who asks to stay signed in keeps the session this long; the login
    # session row in the database is what really decides (see accounts/sessions.py).
    PERMANENT_SESSION_LIFETIME = timedelta(days=30)
    SESSION_IDLE_MINUTES = 120  # a session without the "stay signed in" tick
    KIOSK_IDLE_SECONDS = 90
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session; forms left open still post
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(PACKAGE / "translations")
    LANGUAGES = {"zh": "简体中文", "en": "English"}
    # Said explicitly: Flask-Limiter keeps the last app's setting on its (shared) instance, so
    # an app made with limits off (a load test) would switch them off for the next one.
    # Public pages kept per worker for visitors not signed in (portal/page_cache.py), up to
    # this many bytes of pages per worker.
    PAGE_CACHE = True
    PAGE_CACHE_BYTES = 64 * 1024 * 1024
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_STRATEGY = "moving-window"
    PASSWORD_HASH_METHOD = "scrypt"  # tests use a cheap method; never set that in production
    TRUSTED_PROXIES = 0  # number of reverse proxies whose X-Forwarded-For we believe
    # Where residents reach the portal: absolute links (feed, QR codes, messages) start here.
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    MAX_OPEN_BOOKINGS = 3  # open bookings one phone number may hold
    BOOKING_CUTOFF_MINUTES = 120  # cancel or move online until this long before the slot
    # Messages leave by SMS and e-mail (portal/deliveries.py, portal/channels.py). The SMS
    # provider only sends approved templates: SMS_TEMPLATES maps each booking message's kind
    # (and `brief`, `news`, `verify`) to the provider's template code per language; README
    # lists their texts.
    SMS_PROVIDER = "log"  # log (writes messages.log in the data dir) or aliyun
    SMS_SIGN_NAME = "通办"  # the registered signature (签名)
    SMS_TEMPLATES = {kind: {"zh": f"TB_{kind.upper()}_ZH", "en": f"TB_{kind.upper()}_EN"}
                     for kind in ("booked", "moved", "cancelled", "reminder", "status",
                                  "brief", "news", "verify")}
    ALIYUN_SMS_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
    ALIYUN_REGION = "cn-hangzhou"
    ALIYUN_ACCESS_KEY_ID = ""
    ALIYUN_ACCESS_KEY_SECRET = ""
    SMS_PER_PHONE_PER_DAY = 10  # SMS to one number in 24 hours, whoever caused them
    SMS_PER_CLIENT_PER_DAY = 30  # SMS one client address may cause in 24 hours
    SMS_QUIET_HOURS = (21, 8)  # no SMS from 21:00 to 08:00 local, unless about today
    SMTP_HOST = ""  # no e-mail unless set
    SMTP_PORT = 25
    SMTP_STARTTLS = False
    SMTP_USER = ""
    SMTP_PASSWORD = ""
    MAIL_FROM = "tongban@localhost"
    DELIVERY_MAX_ATTEMPTS = 8  # then `failed`, shown in /admin/deliveries with a resend button
    DELIVERY_RETRY_SECONDS = 30  # back-off: 30 s, 1, 2, 4 … minutes, at most an hour
    # The jobs worker's queue (Huey): a SQLite file in the data dir by default, redis://… when
    # several machines share one; "" keeps no queue (the web app then only writes rows, which
    # the worker's once-a-minute sweep still finds).
    JOBS_QUEUE = "sqlite"
    BACKUP_KEEP_DAILY = 7
    BACKUP_KEEP_WEEKLY = 4
    UPLOAD_DIR = ""  # PORTAL_UPLOAD_DIR: shared by every node; default <data dir>/uploads
    # whoosh (an index in the data dir) or postgres (rows in the database, for several nodes);
    # "" picks postgres on a PostgreSQL database and whoosh otherwise.
    SEARCH_BACKEND = ""
    SEARCH_INDEX_MEMORY_MB = 512  # per process while (re)building the search index
    CIVILITY_RETENTION_DAYS = 90  # published items leave the public board after this long
    # …and this long after that (or after a report was rejected or merged), `civility purge`
    # deletes its photos, originals included, and the photo's position: kept no longer than
    # appeals and rectification need them (PIPL Art. 19).
    CIVILITY_PURGE_DAYS = 90
    VOLUNTEER_CUTOFF_HOURS = 2  # a volunteer with a place cancels online until this long before
    # Approved hours for 1–5 stars (community volunteer rules); PORTAL_VOLUNTEER_STAR_HOURS
    # in the environment, e.g. "100,300,600,1000,1500".
    VOLUNTEER_STAR_HOURS = (100, 300, 600, 1000, 1500)
    VOLUNTEER_WISH_MAX_YUAN = 200  # a micro-wish is small: at most this much
    VOLUNTEER_ISSUER = ""  # who issues service-record certificates; default: the town's 新时代文明实践所


def load(app, test_config: dict | None = None) -> None:
    """Fill `app.config` from defaults, the environment (`.env` read if present) and tests."""
    load_dotenv(HOME / ".env")
    app.config.from_object(Defaults)
    data_dir = Path(os.environ.get("PORTAL_DATA_DIR") or HOME / "instance").resolve()
    app.config["PORTAL_DATA_DIR"] = str(data_dir)
    for name in ("DATABASE_URL", "SECRET_KEY", "RATELIMIT_STORAGE_URI"):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    if os.environ.get("PORTAL_PUBLIC_URL"):
        app.config["PUBLIC_BASE_URL"] = os.environ["PORTAL_PUBLIC_URL"]
    if os.environ.get("PORTAL_UPLOAD_DIR"):
        app.config["UPLOAD_DIR"] = str(Path(os.environ["PORTAL_UPLOAD_DIR"]).resolve())
    if os.environ.get("PORTAL_TRUSTED_PROXIES"):
        app.config["TRUSTED_PROXIES"] = int(os.environ["PORTAL_TRUSTED_PROXIES"])
    if os.environ.get("PORTAL_VOLUNTEER_STAR_HOURS"):
        app.config["VOLUNTEER_STAR_HOURS"] = _star_hours(os.environ["PORTAL_VOLUNTEER_STAR_HOURS"])
    for name, kind in ENVIRONMENT.items():
        if os.environ.get(f"PORTAL_{name}"):
            app.config[name] = kind(os.environ[f"PORTAL_{name}"])
    if os.environ.get("PORTAL_VOLUNTEER_ISSUER"):
        app.config["VOLUNTEER_ISSUER"] = os.environ["PORTAL_VOLUNTEER_ISSUER"]
    if test_config:
        app.config.update(test_config)
        data_dir = Path(app.config["PORTAL_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = _database_url(
        app.config.get("DATABASE_URL") or f"sqlite:///{data_dir / 'portal.db'}"
    )
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A server database: check a pooled connection before use, so after a restart the
        # next request works again without restarting workers. (SQLite needs no ping on the
        # hot path: a failed open is never pooled, so the next request simply opens again.)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True,
                                                   **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _kept_secret(data_dir / "secret_key")
    # The keys ID numbers are sealed with (portal/sealing.py): PORTAL_DATA_KEY, or a
    # key file kept apart from the database and its backups, made on first start.
    if os.environ.get("PORTAL_DATA_KEY"):
        app.config.setdefault("DATA_KEY", os.environ["PORTAL_DATA_KEY"])
    app.config.setdefault("DATA_KEY_FILE", str(Path(
        os.environ.get("PORTAL_DATA_KEY_FILE") or data_dir / "keys" / "data-keys.json").resolve()))
    if not app.config.get("DATA_KEY"):
        from portal.sealing import ensure_keyfile
        ensure_keyfile(Path(app.config["DATA_KEY_FILE"]))
    if app.debug or app.testing:
        app.config["SESSION_COOKIE_SECURE"] = False


def _flag(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


# Settings read from PORTAL_<NAME> in the environment, and how.
ENVIRONMENT = {
    "SMS_PROVIDER": str, "SMS_SIGN_NAME": str, "SMS_TEMPLATES": json.loads,
    "ALIYUN_SMS_ENDPOINT": str, "ALIYUN_REGION": str, "ALIYUN_ACCESS_KEY_ID": str,
    "ALIYUN_ACCESS_KEY_SECRET": str, "SMS_PER_PHONE_PER_DAY": int,
    "SMS_PER_CLIENT_PER_DAY": int, "SMTP_HOST": str, "SMTP_PORT": int, "SMTP_STARTTLS": _flag,
    "SMTP_USER": str, "SMTP_PASSWORD": str, "MAIL_FROM": str, "JOBS_QUEUE": str,
    "SEARCH_BACKEND": str,
}


def _star_hours(text: str) -> tuple[int, ...]:
    """Five increasing whole numbers of hours, or the start-up fails saying why."""
    try:
        hours = tuple(int(part) for part in text.replace("，", ",").split(","))
    except ValueError:
        hours = ()
    if len(hours) != 5 or any(b <= a for a, b in zip(hours, hours[1:])) or hours[0] <= 0:
        raise ValueError(f"PORTAL_VOLUNTEER_STAR_HOURS needs five increasing hours, got {text!r}")
    return hours


def _database_url(url: str) -> str:
    """Let `postgres://` and `postgresql://` URLs use psycopg 3, the driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _kept_secret(path: Path) -> str:
    """Generate the secret key once and keep it in the data dir, readable by the owner only."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()
