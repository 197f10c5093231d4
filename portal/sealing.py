"""Sensitive values sealed at rest: ID-card numbers are stored encrypted (AES-GCM from
`cryptography`), and found again through a keyed hash (HMAC-SHA256) column where the portal
needs uniqueness or a look-up (one volunteer record per ID number).

The keys never live in the database, nor in its backups: they come from a keyring file
(PORTAL_DATA_KEY_FILE, default `<data dir>/keys/data-keys.json`, readable by the owner only,
made on first start like the secret key) or from PORTAL_DATA_KEY (one base64 key of 32 bytes;
a fixed key, so no rotation while serving). The file holds the current key, older keys still
needed to open older values, and the look-up key:

    {"current": "k…", "keys": {"k…": "<base64>", …}, "lookup": "<base64>"}

A sealed value is the text `s1:<key id>:<base64 of nonce + ciphertext>`; the column's name
(`users.id_card`) is the associated data, so a value copied into another column does not open.
`flask keys rotate` writes a new current key while the portal serves (workers see the file's
change within a second, and reload at once when they meet a key they do not know), then seals
every value again under it; `flask keys retire` drops keys no value needs any more.

Losing the keys loses the ID numbers, and nothing else: every other column is plain, so
bookings, volunteer records, hours and accounts all still work; a value that cannot be opened
reads as empty (logged once, without the value) and is typed in again when the person next
gives it. Keep a copy of the key file apart from the database backups (README, "Keys").
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

PREFIX = "s1"
RELOAD_SECONDS = 1.0  # how often a worker looks whether the key file changed
SEALED_LENGTH = 120  # an 18-character ID number sealed: 3 + 1 + id + 1 + base64(12 + 18 + 16)


class KeysMissing(RuntimeError):
    """No key to seal with (the file is unreadable or malformed)."""


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]
    lookup: bytes
    source: str  # "file" or "env"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def new_key_id() -> str:
    return "k" + time.strftime("%Y%m%d") + secrets.token_hex(3)


def _partial(path: Path, ring: Keyring) -> Path:
    """The keyring written, owner-only and synced, beside `path` under a name of its own."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps({"current": ring.current,
                       "keys": {k: _b64(v) for k, v in ring.keys.items()},
                       "lookup": _b64(ring.lookup)}, indent=1)
    partial = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return partial


def write_keyfile(path: Path, ring: Keyring) -> None:
    """Replace the keyring atomically (a new file renamed over the old)."""
    os.replace(_partial(path, ring), path)


def ensure_keyfile(path: Path) -> None:
    """Make a keyring with one fresh key when there is none (first start). Several workers
    starting at once make one: the first link wins, the others use its file."""
    if path.exists():
        return
    key_id = new_key_id()
    partial = _partial(path, Keyring(key_id, {key_id: AESGCM.generate_key(bit_length=256)},
                                     secrets.token_bytes(32), "file"))
    try:
        os.link(partial, path)  # fails if another worker's file is there already
    except FileExistsError:
        pass
    finally:
        partial.unlink()


@functools.lru_cache(maxsize=4)  # read on every seal and open: decoded once
def _from_env(text: str) -> Keyring:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise KeysMissing("PORTAL_DATA_KEY must be 32 bytes in base64 (44 characters)")
    return Keyring("env", {"env": key}, hmac.new(key, b"tongban lookup", "sha256").digest(),
                   "env")


def _from_file(path: Path) -> Keyring:
    try:
        data = json.loads(path.read_text())
        ring = Keyring(data["current"],
                       {k: base64.b64decode(v) for k, v in data["keys"].items()},
                       base64.b64decode(data["lookup"]), "file")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise KeysMissing(f"the key file {path} cannot be read: {error}") from None
    if ring.current not in ring.keys or any(len(k) != 32 for k in ring.keys.values()):
        raise KeysMissing(f"the key file {path} has no usable current key")
    return ring


class _Rings:
    """Each process's keyrings, one per key file, looked at again at most once a second."""

    def __init__(self):
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, int, Keyring]] = {}

    def get(self, *, fresh: bool = False) -> Keyring:
        config = current_app.config
        if config.get("DATA_KEY"):
            return _from_env(config["DATA_KEY"])
        path = Path(config["DATA_KEY_FILE"])
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(str(path))
            if kept and not fresh and now - kept[0] < RELOAD_SECONDS:
                return kept[2]
            try:
                stamp = path.stat().st_mtime_ns
            except OSError:
                stamp = -1
            if kept and kept[1] == stamp:
                self._kept[str(path)] = (now, stamp, kept[2])
                return kept[2]
            ring = _from_file(path)
            self._kept[str(path)] = (now, stamp, ring)
            return ring


rings = _Rings()


def keyring(*, fresh: bool = False) -> Keyring:
    return rings.get(fresh=fresh)


def seal(value: str, context: str) -> str:
    ring = keyring()
    nonce = secrets.token_bytes(12)
    box = AESGCM(ring.keys[ring.current]).encrypt(nonce, value.encode(), context.encode())
    return f"{PREFIX}:{ring.current}:{_b64(nonce + box)}"


_warned: set[tuple[str, str]] = set()


def open_sealed(text: str, context: str) -> str | None:
    """The value, or None when it cannot be opened (its key is gone, or it was tampered with).
    Text that is not sealed is returned as it is (a row the migration has not reached)."""
    if not text.startswith(PREFIX + ":"):
        return text
    _, key_id, body = text.split(":", 2)
    ring = keyring()
    if key_id not in ring.keys:
        ring = keyring(fresh=True)  # a rotation another process has just written
    key = ring.keys.get(key_id)
    try:
        raw = base64.b64decode(body)
        if key is None:
            raise InvalidTag
        return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except (InvalidTag, ValueError):
        if (context, key_id) not in _warned:
            _warned.add((context, key_id))
            log.warning("a sealed value in %s cannot be opened (key %s %s)", context, key_id,
                        "is not in the keyring" if key is None else "does not fit")
        return None


def lookup_hash(value: str | None) -> str | None:
    """The keyed hash an ID number is found and kept unique by (never the number itself)."""
    if not value:
        return None
    return hmac.new(keyring().lookup, value.strip().upper().encode(), hashlib.sha256).hexdigest()


class Sealed(TypeDecorator):
    """A text column stored sealed: `Mapped[str | None] = mapped_column(Sealed("t.c"))`.
    Equality in SQL never matches a sealed value (each sealing is different): compare the
    column's keyed hash instead."""

    impl = String(SEALED_LENGTH)
    cache_ok = True

    def __init__(self, context: str):
        super().__init__()
        self.context = context

    def process_bind_param(self, value, dialect):
        return seal(value, self.context) if value else value

    def process_result_value(self, value, dialect):
        if not value:
            return value
        return open_sealed(value, self.context)


def sealed_columns():
    """(table, column, context) for every sealed column of the schema."""
    from portal.extensions import db
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Sealed):
                yield table, column, column.type.context


# ---- keys rotate / retire / check (the CLI's `flask keys …`) ------------------------------

def _raw(column):
    from sqlalchemy import type_coerce
    return type_coerce(column, String)


def reseal_all(batch: int = 500) -> int:
    """Seal again, under the current key, every value sealed under another (or not sealed at
    all). Batches in their own transactions, each row changed only if it still holds what was
    read (a worker saving the row meanwhile wins; the next pass takes its value). Returns how
    many values were sealed again."""
    from sqlalchemy import and_, not_, select, update
    from portal.database import write_transaction
    from portal.extensions import db
    done = 0
    while True:
        ring = keyring(fresh=True)
        mark = f"{PREFIX}:{ring.current}:%"
        moved = 0
        for table, column, context in sealed_columns():
            key = table.primary_key.columns.values()[0]
            last = None
            while True:
                query = (select(key, _raw(column)).where(column.isnot(None), _raw(column) != "",
                                                         not_(_raw(column).like(mark)))
                         .order_by(key).limit(batch))
                if last is not None:
                    query = query.where(key > last)
                with write_transaction():  # SQLite: the write lock first, then read and write
                    rows = db.session.execute(query).all()
                    for pk, old in rows:
                        value = open_sealed(old, context)
                        if value is None:
                            continue  # its key is gone: left as it is (`keys check` counts)
                        moved += db.session.execute(
                            update(table).where(and_(key == pk, _raw(column) == old))
                            .values({column.name: _raw(seal(value, context))})).rowcount
                    db.session.commit()
                if not rows:
                    break
                last = rows[-1][0]
        done += moved
        if not moved:
            return done


def rotate() -> tuple[str, int]:
    """A new current key; every value sealed again under it. Returns (key id, values)."""
    ring = keyring(fresh=True)
    if ring.source != "file":
        raise KeysMissing("the key comes from PORTAL_DATA_KEY: rotating needs the key file "
                          "(PORTAL_DATA_KEY_FILE)")
    key_id = new_key_id()
    write_keyfile(Path(current_app.config["DATA_KEY_FILE"]),
                  Keyring(key_id, {**ring.keys, key_id: AESGCM.generate_key(bit_length=256)},
                          ring.lookup, "file"))
    # Workers look at the file at least once a second; one sealing under the old key by a
    # worker that has not looked yet is taken by reseal_all's next pass.
    time.sleep(2 * RELOAD_SECONDS)
    return key_id, reseal_all()


def usage() -> dict[str, int]:
    """How many values each key seals ("plain" for values not sealed yet, "?" for keys not in
    the keyring: values lost with their key)."""
    from sqlalchemy import select
    from portal.extensions import db
    ring = keyring(fresh=True)
    counts: dict[str, int] = {}
    for table, column, _context in sealed_columns():
        rows = db.session.execute(select(_raw(column)).where(column.isnot(None),
                                                             _raw(column) != "")).scalars()
        for text in rows:
            key_id = text.split(":", 2)[1] if text.startswith(PREFIX + ":") else "plain"
            if key_id not in ring.keys and key_id != "plain":
                key_id = "?"
            counts[key_id] = counts.get(key_id, 0) + 1
    return counts


def retire() -> list[str]:
    """Drop the keys no value is sealed under. Returns the dropped key ids."""
    ring = keyring(fresh=True)
    if ring.source != "file":
        raise KeysMissing("the key comes from PORTAL_DATA_KEY: there is no key file to change")
    used = usage()
    dropped = [k for k in ring.keys if k != ring.current and not used.get(k)]
    if dropped:
        write_keyfile(Path(current_app.config["DATA_KEY_FILE"]),
                      Keyring(ring.current,
                              {k: v for k, v in ring.keys.items() if k not in dropped},
                              ring.lookup, "file"))
    return dropped
