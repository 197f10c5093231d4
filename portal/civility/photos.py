"""Report photos, the dangerous part: only real images, never the uploaded bytes again.

- Accepted: JPEG, PNG, WebP and HEIC/HEIF (pillow-heif), decided by decoding the whole
  image, never by name or declared type; at most MAX_BYTES and uploads.MAX_PIXELS (a
  50,000 × 50,000 PNG is refused from its header, before anything is expanded).
- Refused as polyglots: an image followed by other data, or carrying markup or script
  anywhere in its bytes (a JPEG that is also an HTML page or a ZIP).
- What is kept is re-encoded: turned upright by its EXIF orientation, at most MAX_SIDE
  pixels, JPEG without any metadata (no EXIF, GPS, XMP, ICC or comments). The GPS position
  is read first, only to suggest where it happened; it is stored with the report (private).
- Public derivatives are made from the working copy with black boxes painted over faces
  and number plates; the working copy is served to moderators only.
"""
from __future__ import annotations

import io
import json
import re
import warnings
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageDraw

from portal import uploads
from portal.params import coordinate
from portal.uploads import MAX_PIXELS, UploadRefused

try:  # a maintained HEIC/HEIF decoder: iPhones take photos in HEIC
    import pillow_heif
    pillow_heif.register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover - the pinned dependency is installed
    HEIC = False

MAX_BYTES = 10 * 1024 * 1024
MAX_SIDE = 2000
THUMB_SIDE = 480
FORMATS = {"JPEG", "PNG", "WEBP", "HEIF", "HEIC"}
AREA = "civility"
# Markup or script in an image's metadata: a polyglot. Only the first 64 KB are looked at:
# in megabytes of compressed pixels, one of these short patterns may turn up by chance.
_MARKUP = re.compile(rb"<\s*(script|html|svg|iframe|object|body)|<\?php|javascript:", re.I)


@dataclass
class Processed:
    original: str
    original_thumb: str
    width: int
    height: int
    latitude: float | None
    longitude: float | None


def process(data: bytes) -> Processed:
    """Check an upload and keep its re-encoded working copy; UploadRefused says why not."""
    if len(data) > MAX_BYTES:
        raise UploadRefused(_l("照片太大：每张不能超过%(mb)d MB。", mb=MAX_BYTES // 1024 // 1024))
    if _MARKUP.search(data[:65536]):  # the metadata segments (comments, EXIF, XMP)
        raise UploadRefused(_l("这个文件除了图片还夹带了其他内容，不能上传。请直接用手机拍的照片。"))
    image = _decoded(data)
    latitude, longitude = gps(image)
    image = _upright(image)
    original, (width, height) = _save(image, MAX_SIDE)
    thumb, _ = _save(image, THUMB_SIDE)
    return Processed(original, thumb, width, height, latitude, longitude)


def _decoded(data: bytes) -> Image.Image:
    not_an_image = UploadRefused(_l("只能上传照片（JPEG、PNG、WebP 或 HEIC）；这个文件不是照片，或者已经损坏。"))
    too_many = UploadRefused(_l("照片的像素太多（超过%(m)d万），不能上传。", m=MAX_PIXELS // 10000))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise not_an_image
            if image.width * image.height > MAX_PIXELS:
                raise too_many
            image.load()
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many from None  # Pillow's own guard, from the header: nothing expanded
    except Exception:  # truncated, corrupt, or not an image at all
        raise not_an_image from None
    if _trailing(data, image.format):
        raise UploadRefused(_l("这个文件除了图片还夹带了其他内容，不能上传。请直接用手机拍的照片。"))
    return image


def _trailing(data: bytes, kind: str) -> bool:
    """True when bytes follow the end of the image (how image polyglots are made)."""
    if kind == "JPEG":
        end = data.rfind(b"\xff\xd9")
        return end == -1 or len(data) - (end + 2) > 16
    if kind == "PNG":
        end = data.rfind(b"IEND")
        return end == -1 or len(data) - (end + 8) > 16
    if kind == "WEBP":
        return len(data) > int.from_bytes(data[4:8], "little") + 8 + 16
    return False


def gps(image: Image.Image) -> tuple[float | None, float | None]:
    """The photo's position from its EXIF GPS tags (degrees), if it has one."""
    try:
        info = image.getexif().get_ifd(0x8825)
        lat, lat_ref = info.get(2), info.get(1)
        lon, lon_ref = info.get(4), info.get(3)
        if not (lat and lon):
            return None, None
        latitude = sum(float(v) / 60 ** n for n, v in enumerate(lat))
        longitude = sum(float(v) / 60 ** n for n, v in enumerate(lon))
        latitude *= -1 if lat_ref == "S" else 1
        longitude *= -1 if lon_ref == "W" else 1
        if -90 <= latitude <= 90 and -180 <= longitude <= 180:
            return round(latitude, 5), round(longitude, 5)
    except Exception:  # odd or broken EXIF: no position, that is all
        pass
    return None, None


def _upright(image: Image.Image) -> Image.Image:
    return uploads.upright(image).convert("RGB")


def _save(image: Image.Image, side: int) -> tuple[str, tuple[int, int]]:
    """A fresh JPEG of `image` at most `side` pixels, without any metadata; name and size."""
    copy = image.copy()
    copy.thumbnail((side, side))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85, optimize=True)  # no exif=, icc_profile=: none kept
    return uploads.store(AREA, out.getvalue(), "jpg").stored_name, copy.size


def parse_boxes(raw: str, width: int, height: int) -> list[list[int]]:
    """Boxes as the moderator drew them: `x,y,w,h` per line or JSON, in image pixels,
    clipped to the image; anything unreadable is left out."""
    boxes = []
    try:
        values = json.loads(raw) if raw.strip().startswith("[") else \
            [line.replace("，", ",").split(",") for line in raw.splitlines() if line.strip()]
    except ValueError:
        return []
    for box in values[:50]:
        numbers = [coordinate(v, -1e6, 1e6) for v in box] if isinstance(box, list) else []
        if len(numbers) != 4 or None in numbers:  # not four finite numbers (1e309, NaN, text)
            continue
        x, y, w, h = (int(n) for n in numbers)
        x, y = max(0, min(x, width)), max(0, min(y, height))
        w, h = max(0, min(w, width - x)), max(0, min(h, height - y))
        if w >= 4 and h >= 4:
            boxes.append([x, y, w, h])
    return boxes


def redact(original: str, boxes: list[list[int]]) -> tuple[str, str]:
    """The public derivative: the working copy with solid black boxes; and its thumbnail."""
    with Image.open(uploads.path_of(AREA, original)) as image:
        image = image.convert("RGB")
        draw = ImageDraw.Draw(image)
        for x, y, w, h in boxes:
            draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(0, 0, 0))
        return _save(image, MAX_SIDE)[0], _save(image, THUMB_SIDE)[0]
