"""Uploaded files: what they really are (by content, never by name or declared type), and
where they are kept (under the data dir, random names, outside static/; views that check
permission serve them).
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.refused import Refused

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of .doc and .xls (Office 97–2003)
DOCUMENT_KINDS = {"pdf": "application/pdf",
                  "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  "doc": "application/msword", "xls": "application/vnd.ms-excel",
                  "png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
EXTENSIONS = {"pdf": "pdf", "docx": "docx", "xlsx": "xlsx", "doc": "doc", "xls": "xls",
              "png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp"}


class UploadRefused(Refused):
    """A file that cannot be taken; `message` says why."""

    def __init__(self, message):
        super().__init__("upload", message)


@dataclass(frozen=True)
class Stored:
    stored_name: str
    size: int
    sha256: str


def root() -> Path:
    """Where uploads live: PORTAL_UPLOAD_DIR (storage every node mounts, when there are
    several), by default `uploads/` in the data dir."""
    return Path(current_app.config.get("UPLOAD_DIR")
                or Path(current_app.config["PORTAL_DATA_DIR"]) / "uploads")


def folder(area: str) -> Path:
    path = root() / area
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(area: str, data: bytes, extension: str) -> Stored:
    """Keep `data` under a random name (written to a temporary name, then renamed)."""
    name = f"{secrets.token_urlsafe(18)}.{extension}"
    target = folder(area) / name
    temporary = target.with_suffix(".part")
    with open(temporary, "xb") as handle:
        handle.write(data)
    os.replace(temporary, target)
    return Stored(name, len(data), hashlib.sha256(data).hexdigest())


def discard(area: str, stored_name: str | None) -> None:
    """Delete a kept file (gone already is fine)."""
    if stored_name:
        try:
            path_of(area, stored_name).unlink()
        except FileNotFoundError:
            pass


def path_of(area: str, stored_name: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_-]+\.[a-z]+", stored_name):
        raise FileNotFoundError(stored_name)
    return folder(area) / stored_name


def read_limited(file_storage, limit: int) -> bytes:
    """The upload's bytes, or UploadRefused if it is empty or larger than `limit`."""
    data = file_storage.stream.read(limit + 1)
    if not data:
        raise UploadRefused(_l("文件是空的，请重新选择。"))
    if len(data) > limit:
        raise UploadRefused(_l("文件太大：每个文件不能超过%(mb)d MB。", mb=limit // (1024 * 1024)))
    return data


def document_kind(data: bytes, filename: str) -> str:
    """pdf, docx, xlsx, doc, xls, png, jpeg or webp — decided by the content, with the name's
    extension only to tell .doc from .xls inside the same Office 97 container."""
    claimed = EXTENSIONS.get(Path(filename or "").suffix.lower().lstrip("."))
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        kind = _office_open_xml(data)
        if kind:
            return kind
    if data.startswith(_OLE2) and claimed in ("doc", "xls"):
        return claimed
    image = image_kind(data)
    if image:
        return image
    raise UploadRefused(_l("只能上传 PDF、Word、Excel 或图片（JPEG、PNG、WebP）文件；这个文件的内容不是其中一种。"))


def _office_open_xml(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" not in names:
                return None
            if "word/document.xml" in names:
                return "docx"
            if "xl/workbook.xml" in names:
                return "xlsx"
    except (zipfile.BadZipFile, ValueError):
        return None
    return None


MAX_PIXELS = 40_000_000  # ~ a 50-megapixel phone photo's worth; beyond it: a bomb


def image_kind(data: bytes) -> str | None:
    """jpeg, png or webp when Pillow can fully decode `data` as one (within pixel limits)."""
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decoded_kind(Image, data)
    except Exception:  # not an image, truncated, a decompression bomb: all "not an image"
        return None


def _decoded_kind(Image, data: bytes) -> str | None:
    with Image.open(io.BytesIO(data)) as image:
        kind = (image.format or "").lower()
        # The header's size is checked before decoding anything: a 50,000 × 50,000 PNG of a
        # few kilobytes must not be expanded to find out.
        if kind not in ("jpeg", "png", "webp") or image.width * image.height > MAX_PIXELS:
            return None
        image.load()
        return kind


def upright(image):
    """The image turned by its EXIF orientation (phones store it sideways and say so)."""
    from PIL import ImageOps
    return ImageOps.exif_transpose(image)


def reencoded(data: bytes, kind: str) -> bytes:
    """An image (`kind` from image_kind) turned upright and written afresh in its own format,
    with no metadata at all: no EXIF (GPS, camera, orientation), XMP, ICC or comments. The
    same treatment civility photos get (there also made smaller), for notice attachments."""
    from PIL import Image
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        turned = upright(image)
        out = io.BytesIO()
        if kind == "jpeg":
            turned.convert("RGB").save(out, "JPEG", quality=90, optimize=True)
        elif kind == "png":
            turned.save(out, "PNG", optimize=True)
        else:
            turned.save(out, "WEBP", quality=90)
    return out.getvalue()


def clean_filename(name: str, kind: str) -> str:
    """A safe name to show and download: the base name, no control or path characters,
    at most 80 characters, ending in the extension of what the file really is."""
    base = Path(unicodedata.normalize("NFKC", name or "").replace("\\", "/")).name
    stem = re.sub(r"[\x00-\x1f\x7f<>:\"/\\|?*]+", "", Path(base).stem).strip(" .") or "附件"
    extension = "jpg" if kind == "jpeg" else kind
    return f"{stem[:76]}.{extension}"
