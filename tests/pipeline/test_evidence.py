from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from detector.types import Box, Colour
from pipeline.evidence import EvidenceJob, EvidenceRecorder
from pipeline.rules.base import Violation
from pipeline.source import Frame
from tests.conftest import make_track, moving
from tests.pipeline.rules.test_red_light import SCENE

FPS = 10.0


def frame(i: int) -> Frame:
    image = np.full((200, 200, 3), 40, np.uint8)
    cv2.putText(image, str(i), (10, 190), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return Frame(i, i / FPS, image, True, cv2.imencode(".jpg", image)[1].tobytes())


def violation(frame_index: int) -> Violation:
    return Violation("red_light", "stop", 1, "car", frame_index, frame_index / FPS, Box(40, 60, 60, 96), 0.9,
                     "main", Colour.RED, 12.0)


def run(recorder: EvidenceRecorder, job_at: int, job: EvidenceJob, until: int):
    done = []
    for i in range(until):
        recorder.add_frame(frame(i))
        if i == job_at:
            recorder.start(job)
        done += recorder.poll()
    return done + recorder.flush()


def test_package_has_every_file_with_its_hash_and_no_partial_folder(tmp_path):
    track = make_track(moving(50, list(range(160, 40, -4))), fps=FPS, start_frame=30)
    rec = EvidenceRecorder(tmp_path, SCENE, FPS, pre_s=2, post_s=2, signal_colour_at=lambda s, t: Colour.RED)
    job = EvidenceJob(violation(45), track, datetime(2024, 5, 1, 8, 14, tzinfo=UTC), "v1", due=4.5 + 2)
    ((done_job, files),) = run(rec, 47, job, 120)
    assert done_job is job
    assert {f.kind for f in files} == {"before", "during", "after", "vehicle", "clip", "clip_marked"}
    for f in files:
        path = tmp_path / f.path
        assert f.path.startswith("evidence/test/2024-05-01/v1/")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256 and f.bytes == path.stat().st_size
    assert not list(tmp_path.rglob("*.partial"))
    clip = cv2.VideoCapture(str(tmp_path / "evidence/test/2024-05-01/v1/clip.mp4"))
    assert int(clip.get(cv2.CAP_PROP_FRAME_COUNT)) == pytest.approx(41, abs=1)  # 2 s + 2 s at 10 fps, both ends
    during = cv2.imread(str(tmp_path / "evidence/test/2024-05-01/v1/during.jpg"))
    assert during.shape[0] > 200  # the frame plus its data bar


def test_waits_for_the_post_roll_before_writing(tmp_path):
    track = make_track(moving(50, list(range(160, 40, -4))), fps=FPS, start_frame=30)
    rec = EvidenceRecorder(tmp_path, SCENE, FPS, pre_s=1, post_s=3)
    rec.start(EvidenceJob(violation(45), track, datetime.now(UTC), "v2", due=4.5 + 3))
    for i in range(70):
        rec.add_frame(frame(i))
    assert rec.pending == 1 and rec.poll(wait=True) == []  # frame 69 = 6.9 s < due 7.5 s: still waiting
    rec.add_frame(frame(75))
    assert [kind for kind in ("v2",)] and len(rec.poll(wait=True)) == 1


def test_a_frame_gone_from_the_ring_falls_back_to_the_nearest(tmp_path):
    track = make_track(moving(50, list(range(160, 40, -2))), fps=FPS, start_frame=0)
    rec = EvidenceRecorder(tmp_path, SCENE, FPS, pre_s=1, post_s=1, lookback_s=0)
    job = EvidenceJob(violation(5), track, datetime.now(UTC), "v3", due=0.0)
    ((_, files),) = run(rec, 50, job, 52)  # found 4.5 s late: frame 5 left the 3 s ring long ago
    assert {f.kind for f in files} >= {"before", "during", "after"}


def test_ring_buffer_is_bounded(tmp_path):
    rec = EvidenceRecorder(tmp_path, SCENE, FPS, pre_s=3, post_s=3, lookback_s=4)
    for i in range(1000):
        rec.add_frame(frame(i))
    assert len(rec._ring) == rec._ring.maxlen == 111


def test_unwritable_evidence_folder_is_a_storage_error(tmp_path):
    blocker = tmp_path / "evidence"
    blocker.write_text("a file where the evidence folder should be")
    track = make_track(moving(50, [120, 110, 100, 90]), fps=FPS)
    rec = EvidenceRecorder(tmp_path, SCENE, FPS, pre_s=0.2, post_s=0.2)
    ((_, result),) = run(rec, 2, EvidenceJob(violation(2), track, datetime.now(UTC), "v4", due=0.4), 6)
    from pipeline.errors import StorageError

    assert isinstance(result, StorageError) and "cannot write evidence" in str(result)


def test_frames_kept_without_jpeg_are_read_again_only_where_a_package_needs_them(tmp_path):
    images = {i: frame(i).image for i in range(120)}
    asked: list[int] = []
    calls: list[int] = []

    def read_again(wanted):
        asked.extend(wanted)
        calls.append(len(wanted))
        return {i: images[i] for i in wanted}

    track = make_track(moving(50, list(range(160, 40, -4))), fps=FPS, start_frame=30)
    rec = EvidenceRecorder(tmp_path, SCENE, FPS, pre_s=2, post_s=2, read_again=read_again)
    job = EvidenceJob(violation(45), track, datetime(2024, 5, 1, 8, 14, tzinfo=UTC), "v5", due=4.5 + 2)
    done = []
    for i in range(120):
        rec.add_frame(Frame(i, i / FPS, images[i], True))  # a file's frame: no JPEG bytes
        if i == 47:
            rec.start(job)
        done += rec.poll()
    ((_, files),) = done + rec.flush()
    assert {f.kind for f in files} == {"before", "during", "after", "vehicle", "clip", "clip_marked"}
    # the clip's 4 s, each frame decoded once: the stills and the crop are taken on the way
    assert sorted(asked) == list(range(25, 66))
    assert max(calls) <= 8  # the clip is decoded a chunk at a time, never all at once
    clip = cv2.VideoCapture(str(tmp_path / "evidence/test/2024-05-01/v5/clip.mp4"))
    assert int(clip.get(cv2.CAP_PROP_FRAME_COUNT)) == pytest.approx(41, abs=1)


def test_frames_without_jpeg_and_no_way_to_read_them_again_are_encoded_on_arrival(tmp_path):
    rec = EvidenceRecorder(tmp_path, SCENE, FPS)
    rec.add_frame(Frame(0, 0.0, frame(0).image, True))
    assert rec._ring[0].jpeg[:2] == b"\xff\xd8"


def test_decoded_frames_reach_the_clip_in_order_and_colour_at_an_odd_size(tmp_path):
    """Decoded images go to ffmpeg as YUV 4:2:0 from a second thread: the clip must still hold every
    frame, in order, in its colours (a swapped plane or a dropped frame shows here)."""
    from pipeline.evidence import encode_clip

    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (255, 255, 255)] * 5  # BGR red, green, blue, white
    frames = [np.full((121, 161, 3), c, np.uint8) for c in colours]
    out = tmp_path / "clip.mp4"
    encode_clip(lambda: iter(frames), 10.0, out)
    cap = cv2.VideoCapture(str(out))
    got = []
    while (read := cap.read())[0]:
        got.append(read[1])
    assert len(got) == len(frames)
    assert got[0].shape[:2] == (120, 160)  # 4:2:0 needs even sides
    for image, colour in zip(got, colours, strict=True):
        assert np.abs(image[60, 80].astype(int) - colour).max() < 30


def test_a_frame_that_cannot_be_read_fails_the_clip_and_leaves_no_encoder_running(tmp_path):
    import psutil

    from pipeline.evidence import encode_clip

    def frames():
        for i in range(20):
            if i == 12:
                raise OSError("frame 12 no longer decodes")
            yield np.full((64, 64, 3), 10 * i, np.uint8)

    with pytest.raises(OSError, match="frame 12"):
        encode_clip(frames, 10.0, tmp_path / "clip.mp4")
    assert not [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()]


def _frames_of(path) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    cap = cv2.VideoCapture(str(path))
    out = []
    while (read := cap.read())[0]:
        out.append(read[1].astype(int))
    return out


def test_the_marked_clip_draws_the_vehicle_and_leaves_the_original_untouched(tmp_path):
    """Both clips from one decoding: the marked one has the box where the track is, the rest equal."""
    track = make_track(moving(50, list(range(160, 40, -4))), fps=FPS, start_frame=30)
    rec = EvidenceRecorder(tmp_path, SCENE, FPS, pre_s=2, post_s=2)
    job = EvidenceJob(violation(45), track, datetime(2024, 5, 1, 8, 14, tzinfo=UTC), "v6", due=4.5 + 2)
    ((_, files),) = run(rec, 47, job, 120)
    by_kind = {f.kind: tmp_path / f.path for f in files}
    plain, marked = _frames_of(by_kind["clip"]), _frames_of(by_kind["clip_marked"])
    assert len(plain) == len(marked) == pytest.approx(41, abs=1)
    i = 45 - 25  # frame 45 of the video is frame 20 of the clip (it starts 2 s before)
    box = track.observations[45 - 30].box
    diff = np.abs(plain[i] - marked[i]).max(axis=2)
    edge = diff[int(box.y1) - 2 : int(box.y1) + 3, int(box.x1) : int(box.x2)]  # the box's top side
    assert edge.mean() > 60
    assert (diff[:, 150:] > 40).mean() < 0.02  # far from the vehicle the frames are the same
    assert np.abs(plain[i][int(box.y1), int(box.x1) + 5] - 40).max() < 25  # the original: no box drawn


def test_data_bar_text_is_sized_to_the_frame():
    """The bar's text must read at the size the review page shows a still (a third of the screen)."""
    from pipeline.draw import data_bar

    for width in (640, 1280, 1920):
        image = np.zeros((width * 9 // 16, width, 3), np.uint8)
        out = data_bar(image, ["camera test 2024-05-01 08:14:00", "frame 45", "rule red_light", "signal main"])
        bar = out[image.shape[0] :]
        rows = np.flatnonzero(bar.max(axis=(1, 2)) > 128)
        first_line = rows[rows < rows[0] + bar.shape[0] // 4]
        text_px = first_line[-1] - first_line[0] + 1
        assert text_px * 420 / width >= 7, (width, text_px)  # >= 7 px tall on the page's ~420 px still


def test_data_bar_wraps_long_lines_inside_the_frame():
    from pipeline.draw import data_bar

    image = np.zeros((480, 640, 3), np.uint8)
    line = "signal main: red now; red for 12.3 s at the crossing, and a long tail of words " * 2
    bar = data_bar(image, [line])[480:]
    assert bar.shape[0] > 80  # wrapped onto several lines
    assert bar[:, -4:].max() == 0  # nothing runs off the right edge
