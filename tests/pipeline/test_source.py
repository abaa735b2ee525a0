from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.errors import SourceError
from pipeline.source import VideoFile, _SeekMissed, fingerprint


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """60 frames at 10 fps, each with its number drawn, keyframes every 12 frames."""
    path = tmp_path_factory.mktemp("video") / "numbers.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 120))
    for i in range(60):
        image = np.full((120, 160, 3), (i * 4) % 255, np.uint8)
        cv2.putText(image, str(i), (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        writer.write(image)
    writer.release()
    return path


def test_file_frames_carry_a_fingerprint_and_no_jpeg(video):
    frames = list(VideoFile(video).frames())
    assert len(frames) == 60
    assert all(f.jpeg is None and f.fingerprint == fingerprint(f.image) for f in frames)


@pytest.mark.parametrize("start_at", [0, 5])
def test_frames_read_again_are_the_frames_seen(video, start_at):
    source = VideoFile(video)
    seen = {f.index: f for f in source.frames()}
    for first in (start_at, 31, 52):
        wanted = {i: seen[i].fingerprint for i in (first, first + 2, first + 7)}
        again = source.read_again(wanted)
        assert sorted(again) == sorted(wanted)
        for i, image in again.items():
            assert np.array_equal(image, seen[i].image), i
    assert source._seek_ok


def test_a_clip_read_in_chunks_seeks_once(video, monkeypatch):
    source = VideoFile(video)
    seen = {f.index: f for f in source.frames()}
    opened = []
    real = cv2.VideoCapture

    def counting(*args):  # type: ignore[no-untyped-def]
        opened.append(args)
        return real(*args)

    monkeypatch.setattr(cv2, "VideoCapture", counting)
    chunks = [range(20, 28), range(28, 36), range(36, 40), range(45, 50)]  # the last skips a few frames
    for chunk in chunks:
        again = source.read_again({i: seen[i].fingerprint for i in chunk})
        assert all(np.array_equal(again[i], seen[i].image) for i in chunk)
    assert len(opened) == 1  # one seek; every later chunk read on from where the previous stopped
    again = source.read_again({5: seen[5].fingerprint})  # back before the reader: seek again
    assert np.array_equal(again[5], seen[5].image) and len(opened) == 2
    source.close()


def test_a_seek_that_misses_falls_back_to_reading_in_order(video, monkeypatch):
    source = VideoFile(video)
    seen = {f.index: f for f in source.frames()}

    def seek_misses(first, wanted):
        raise _SeekMissed

    monkeypatch.setattr(source, "_read_seeking", seek_misses)
    for first in (45, 50, 12):  # on, on, then back: the in-order reader starts again
        wanted = (first, first + 3)
        again = source.read_again({i: seen[i].fingerprint for i in wanted})
        assert all(np.array_equal(again[i], seen[i].image) for i in wanted)
    assert not source._seek_ok
    source.close()


def test_a_frame_that_decodes_differently_is_an_error(video):
    source = VideoFile(video)
    with pytest.raises(SourceError, match="decode differently"):
        source.read_again({20: b"not this frame"})
