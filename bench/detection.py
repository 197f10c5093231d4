"""How well the proposed redaction boxes find faces and plates, and what a photo costs.

    .venv/bin/python bench/detection.py [--count 36] [--width 4000]

On the test set of bench/redaction (street scenes with sample portraits and rendered Chinese
plates, built the same on every machine) it prints face recall and precision, plate recall
(and plate boxes proposed where there is no plate), per size, and the time per photo: a 12-MP
JPEG decoded and searched, and the portal's stored working copy (at most 2000 px) searched,
which is what the jobs worker does. A truth box counts as found when one proposal covers at
least 60 % of it without being more than nine times its size.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench.redaction.testset import scenes  # noqa: E402
from portal.civility import detect  # noqa: E402


def covers(found: list[int], truth: list[int]) -> bool:
    fx, fy, fw, fh = found
    tx, ty, tw, th = truth
    w = max(0, min(fx + fw, tx + tw) - max(fx, tx))
    h = max(0, min(fy + fh, ty + th) - max(fy, ty))
    return w * h >= 0.6 * tw * th and fw * fh <= 9 * tw * th


def score(truths: list[list[int]], found: list[list[int]]) -> tuple[int, int]:
    """(truths found, proposals that cover some truth)."""
    hit = sum(any(covers(f, t) for f in found) for t in truths)
    good = sum(any(covers(f, t) for t in truths) for f in found)
    return hit, good


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=36)
    parser.add_argument("--width", type=int, default=4000)
    args = parser.parse_args()
    made = scenes(width=args.width, count=args.count)
    detect.faces(np.zeros((32, 32, 3), np.uint8))  # load the model before timing
    totals = {"faces": 0, "faces_hit": 0, "face_boxes": 0, "face_good": 0,
              "plates": 0, "plates_hit": 0, "plate_boxes": 0, "plate_good": 0}
    by_size: dict[str, list[int]] = {}
    by_colour: dict[str, list[int]] = {}
    full, stored = [], []
    for scene in made:
        jpeg = io.BytesIO()
        scene.image.save(jpeg, "JPEG", quality=90)
        started = time.perf_counter()
        with Image.open(io.BytesIO(jpeg.getvalue())) as image:
            rgb = np.asarray(image.convert("RGB"))
        found = detect.detect(rgb)
        full.append(time.perf_counter() - started)
        copy = scene.image.copy()
        copy.thumbnail((2000, 2000))
        small = np.asarray(copy)
        started = time.perf_counter()
        detect.detect(small)
        stored.append(time.perf_counter() - started)
        faces = [f.box for f in found if f.kind == "face"]
        plates = [f.box for f in found if f.kind == "plate"]
        hit, good = score(scene.faces, faces)
        totals["faces"] += len(scene.faces)
        totals["faces_hit"] += hit
        totals["face_boxes"] += len(faces)
        totals["face_good"] += good
        for truth in scene.faces:
            band = "face <100px" if truth[3] * 4000 / args.width < 100 else \
                "face 100-250px" if truth[3] * 4000 / args.width < 250 else "face >250px"
            by_size.setdefault(band, [0, 0])
            by_size[band][0] += 1
            by_size[band][1] += any(covers(f, truth) for f in faces)
        hit, good = score(scene.plates, plates)
        totals["plates"] += len(scene.plates)
        totals["plates_hit"] += hit
        totals["plate_boxes"] += len(plates)
        totals["plate_good"] += good
        for truth, colour in zip(scene.plates, scene.plate_colours):
            by_colour.setdefault(colour, [0, 0])
            by_colour[colour][0] += 1
            by_colour[colour][1] += any(covers(f, truth) for f in plates)

    def share(a: int, b: int) -> str:
        return f"{a}/{b} = {a / b:.0%}" if b else "-"

    width, height = made[0].image.size
    print(f"test set: {len(made)} photos of {width}x{height} ({width * height / 1e6:.0f} MP), "
          f"{totals['faces']} faces, {totals['plates']} plates")
    print(f"face recall     {share(totals['faces_hit'], totals['faces'])}")
    for band in sorted(by_size):
        print(f"  {band:<16}{share(by_size[band][1], by_size[band][0])}")
    print(f"face precision  {share(totals['face_good'], totals['face_boxes'])}")
    print(f"plate recall    {share(totals['plates_hit'], totals['plates'])}")
    for colour in sorted(by_colour):
        print(f"  {colour:<16}{share(by_colour[colour][1], by_colour[colour][0])}")
    print(f"plate boxes that are plates {share(totals['plate_good'], totals['plate_boxes'])}")
    print(f"time per {width * height / 1e6:.0f}-MP JPEG (decode + faces + plates): median "
          f"{statistics.median(full):.2f} s, max {max(full):.2f} s")
    print(f"time per stored working copy (<= 2000 px): median {statistics.median(stored):.2f} s, "
          f"max {max(stored):.2f} s")


if __name__ == "__main__":
    main()
