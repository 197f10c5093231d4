"""Faces and plates proposed for redaction: the detector on a sample of the test set
(bench/detection.py measures the whole set), the model's checksum, and the jobs worker's
`faces` task that proposes boxes for uploaded photos (never the upload request)."""
from __future__ import annotations

import io
import json
import logging

import numpy as np
import pytest
from PIL import Image

from bench.detection import covers
from bench.redaction.testset import SOURCES, scenes
from portal import jobs
from portal.civility import detect, workflow
from portal.civility.models import Photo
from portal.extensions import db
from tests.test_civility import board, newest, submit  # noqa: F401  (board: the fixture)


@pytest.fixture(scope="module")
def sample():
    return scenes(width=2000, count=8)


def test_faces_and_plates_of_the_test_set_are_found(sample):
    faces = plates = faces_found = plates_found = wrong_faces = 0
    for scene in sample:
        found = detect.detect(np.asarray(scene.image))
        boxes = {kind: [f.box for f in found if f.kind == kind] for kind in ("face", "plate")}
        faces += len(scene.faces)
        plates += len(scene.plates)
        faces_found += sum(any(covers(b, t) for b in boxes["face"]) for t in scene.faces)
        plates_found += sum(any(covers(b, t) for b in boxes["plate"]) for t in scene.plates)
        wrong_faces += sum(not any(covers(b, t) for t in scene.faces) for b in boxes["face"])
    assert faces >= 8 and plates >= 6  # the sample has both
    assert faces_found >= 0.8 * faces and wrong_faces <= 1
    assert plates_found >= 0.5 * plates


def test_a_photo_without_faces_or_plates_gets_no_proposal():
    street = np.asarray(Image.open(SOURCES / "brick.jpg").convert("RGB").resize((1600, 1200)))
    assert detect.detect(street) == []
    assert detect.detect(np.zeros((300, 200, 3), np.uint8)) == []  # upright, tiny


def test_a_model_file_that_is_not_the_shipped_one_is_refused(tmp_path):
    detect.check_model()
    changed = tmp_path / "centerface.onnx"
    data = bytearray(detect.MODEL.read_bytes())
    data[1000] ^= 1
    changed.write_bytes(bytes(data))
    with pytest.raises(detect.DetectorUnavailable, match="SHA-256"):
        detect.check_model(changed)
    with pytest.raises(detect.DetectorUnavailable, match="missing"):
        detect.check_model(tmp_path / "absent.onnx")


def _person(size=(800, 600)) -> bytes:
    image = Image.new("RGB", size, (170, 200, 230))
    image.paste(Image.open(SOURCES / "astronaut.jpg"), (100, 100))  # face at 161–250, 158–278
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def test_the_worker_proposes_boxes_after_the_upload_and_the_moderator_confirms(board, page,
                                                                               client):
    submit(board, [("person.jpg", _person())])
    photo = newest().photos[0]
    assert photo.detected_at is None and photo.proposed == "[]"  # not in the upload request
    review = page(board.moderator.get(f"/civility/moderate/reports/{photo.report_id}"))
    assert "正在自动查找" in review.text()
    run = jobs.run("faces", any_hour=True)
    assert run.status == "ok" and "proposed 1 boxes" in run.result
    db.session.expire_all()
    photo = db.session.get(Photo, photo.id)
    (box,) = json.loads(photo.proposed)
    assert photo.detector == "centerface+plates" and covers(box, [161, 158, 89, 120])
    review = page(board.moderator.get(f"/civility/moderate/reports/{photo.report_id}"))
    assert "自动找到 1 处" in review.text()
    assert review.soup.select_one(".redact-editor")["data-state"] == "proposed"
    assert review.soup.select_one("textarea.redact-boxes").get_text().strip() == \
        ",".join(map(str, box))
    # Nothing is painted until the moderator saves: the proposal alone shows nothing public.
    assert photo.public is None
    board.moderator.post(f"/civility/moderate/photos/{photo.id}/redact",
                         {"boxes": ",".join(map(str, box))})
    db.session.expire_all()
    assert db.session.get(Photo, photo.id).ready
    assert workflow.propose_pending() == (0, 0)  # looked at once


def test_without_the_model_the_moderator_boxes_by_hand(board, page, monkeypatch, caplog):
    monkeypatch.setattr(detect, "MODEL_SHA256", "0" * 64)
    monkeypatch.setattr(detect, "_nets", {})
    submit(board, [("person.jpg", _person())])
    report = newest()
    with caplog.at_level(logging.ERROR):
        assert workflow.propose_pending() == (1, 0)
    assert "redaction proposals unavailable" in caplog.text
    assert report.photos[0].detector == "unavailable"
    review = page(board.moderator.get(f"/civility/moderate/reports/{report.id}"))
    assert "暂时不可用，请手动框选" in review.text()


def test_upright_and_landscape_photos_in_turn_give_the_same_answer():
    person = np.asarray(Image.open(io.BytesIO(_person())).convert("RGB"))
    first = detect.faces(person)
    detect.faces(np.ascontiguousarray(np.rot90(person)))  # upright: the other input shape
    assert detect.faces(person) == first and len(first) == 1
