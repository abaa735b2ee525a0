"""Evidence packages: before / during / after images, a vehicle crop and a clip, with SHA-256s.

Frames wait in a bounded ring buffer. When a violation is seen its job waits for the post-roll,
then a writer thread draws and encodes the files into a `.partial` folder and renames it into
place, so a crash never leaves a complete-looking package with files missing. The caller records
the violation in the database only after the folder is complete (see `EvidenceRecorder.poll`).

What the ring holds depends on the source. A live stream cannot be read twice, so its frames
arrive JPEG-encoded and the ring keeps those bytes. A file can: the ring keeps only each frame's
index, time and fingerprint, and the writer decodes the frames a package needs again from the
file (`read_again`), so the hot path encodes nothing and memory does not grow with frame size.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from detector.hashing import sha256_file
from detector.types import Box, Colour, Observation, Track
from pipeline import draw
from pipeline.errors import StorageError
from pipeline.plates import PlateKind, PlateReader, PlateReading, clearest
from pipeline.rules.base import Violation
from pipeline.scene import Scene
from pipeline.source import JPEG_QUALITY, Frame

log = logging.getLogger(__name__)

MIME = {".jpg": "image/jpeg", ".mp4": "video/mp4"}
# x264 speed preset of evidence clips. The encoder runs beside detection on the same cores, so its
# CPU time is taken from the frame loop: "ultrafast" spends a fraction of "veryfast"'s CPU for
# larger files of the same quality (figures in BENCHMARKS.md, "Evidence clip encoding").
CLIP_PRESET = "ultrafast"
# Frames waiting between the decoding and ffmpeg's input (a clip's frames are read again in chunks
# of this many, so the encoder has the last chunk while the next is decoded).
PIPE_FRAMES = 8
# The writer thread's nice value, set as it is (not added to the process's; see `_yield_cpu`).
WRITER_NICENESS = 10

ReadAgain = Callable[[Mapping[int, "bytes | None"]], dict[int, np.ndarray]]


@dataclass(frozen=True)
class WrittenFile:
    kind: str
    path: str  # relative to the data dir
    sha256: str
    bytes: int
    mime: str


@dataclass
class EvidenceJob:
    """A violation waiting for its post-roll; `context` is handed back untouched with the files."""

    violation: Violation
    track: Track
    occurred_at: datetime
    public_id: str
    due: float
    context: object = None
    plate: PlateReading | None = None  # set by the writer thread when a plate reader is given


@dataclass(frozen=True)
class _Buffered:
    """A frame in the ring: its JPEG bytes, or (for a file) only what finds it again."""

    index: int
    timestamp: float
    jpeg: bytes | None
    fingerprint: bytes | None = None


class EvidenceRecorder:
    """Ring buffer + post-roll wait + background writer for one camera."""

    def __init__(
        self,
        data_dir: Path,
        scene: Scene,
        fps: float,
        *,
        pre_s: float = 3.0,
        post_s: float = 3.0,
        lookback_s: float = 4.0,
        signal_colour_at: Callable[[str, float], Colour] | None = None,
        track_lookup: Callable[[int], Track | None] | None = None,
        stream: bool = False,
        read_again: ReadAgain | None = None,
        time_known: bool = True,
        plates: PlateReader | None = None,
    ):
        self.data_dir = Path(data_dir)
        self._plates = plates  # reads each package's plate on the writer thread (None: no reading)
        self.scene = scene
        self.fps = fps
        self.pre_s, self.post_s = pre_s, post_s
        # lookback_s: how long after its frame a rule may still report a violation (wrong way)
        self._ring: deque[_Buffered] = deque(maxlen=max(2, int((pre_s + post_s + lookback_s + 1.0) * fps) + 1))
        self._waiting: list[EvidenceJob] = []
        self._writing: list[tuple[EvidenceJob, Future[list[WrittenFile]]]] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence", initializer=_yield_cpu)
        self._colour_at = signal_colour_at or (lambda sid, t: Colour.UNKNOWN)
        self._track_lookup = track_lookup or (lambda tid: None)
        self.stream = stream  # timestamps are wall-clock seconds, not seconds into a video
        self.time_known = time_known  # False: the recording time is unknown, the data bar says so
        # frames -> images for frames kept without JPEG bytes (see VideoFile.read_again)
        self._read_again = read_again

    @property
    def pending(self) -> int:
        return len(self._waiting) + len(self._writing)

    def add_frame(self, frame: Frame) -> None:
        jpeg = frame.jpeg
        if jpeg is None and self._read_again is None:  # nothing can give this frame back later
            ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            jpeg = buf.tobytes() if ok else None
        self._ring.append(_Buffered(frame.index, frame.timestamp, jpeg, frame.fingerprint))
        ready = [j for j in self._waiting if frame.timestamp >= j.due]
        for job in ready:
            self._submit(job)

    def start(self, job: EvidenceJob) -> None:
        self._waiting.append(job)

    def _submit(self, job: EvidenceJob) -> None:
        self._waiting.remove(job)
        track = self._track_lookup(job.violation.track_id) or job.track
        v = job.violation
        frames = list(self._ring)  # a snapshot: the writer picks its frames and the clip window from it
        colours = {s.id: self._colour_at(s.id, v.timestamp) for s in self.scene.signals}
        future = self._pool.submit(self._write, job, track, frames, colours)
        self._writing.append((job, future))

    def poll(self, wait: bool = False) -> list[tuple[EvidenceJob, list[WrittenFile] | Exception]]:
        """Jobs whose files are complete (or failed), in the order they were started."""
        done = []
        while self._writing and (wait or self._writing[0][1].done()):
            job, future = self._writing.pop(0)
            try:
                done.append((job, future.result()))
            except Exception as exc:  # one bad package must not stop the run
                log.error("evidence for violation %s failed: %s", job.public_id, exc)
                done.append((job, exc))
        return done

    def flush(self) -> list[tuple[EvidenceJob, list[WrittenFile] | Exception]]:
        """Write every waiting job with the frames there are (end of a video, or shutdown)."""
        for job in list(self._waiting):
            self._submit(job)
        return self.poll(wait=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- the writer thread ---------------------------------------------------------------

    def package_dir(self, job: EvidenceJob) -> Path:
        day = job.occurred_at.strftime("%Y-%m-%d")
        return self.data_dir / "evidence" / self.scene.camera / day / job.public_id

    def _write(
        self, job: EvidenceJob, track: Track, frames: list[_Buffered], colours: dict[str, Colour]
    ) -> list[WrittenFile]:
        final = self.package_dir(job)
        partial = final.with_name(final.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            partial.mkdir(parents=True, exist_ok=True)
            names = self._write_files(partial, job, track, frames, colours)
            if final.exists():
                shutil.rmtree(final)
            os.replace(partial, final)
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise StorageError(f"cannot write evidence under {final.parent}: {exc.strerror or exc}") from exc
        out = []
        for kind, name in names.items():
            path = final / name
            out.append(
                WrittenFile(kind, str(path.relative_to(self.data_dir)), sha256_file(path), path.stat().st_size,
                            MIME[path.suffix])
            )
        return out

    def _write_files(
        self, folder: Path, job: EvidenceJob, track: Track, frames: list[_Buffered], colours: dict[str, Colour]
    ) -> dict[str, str]:
        v = job.violation
        by_index = {b.index: b for b in frames}
        obs = {o.frame_index: o for o in track.observations}
        picks = _pick_frames(v, track, by_index, self.fps)
        centre = by_index[picks["during"]].timestamp if picks else v.timestamp
        clip = [b for b in frames if centre - self.pre_s <= b.timestamp <= centre + self.post_s]
        sharpest = _sharpest(track, {b.index for b in clip} or set(by_index))
        plate_obs = clearest(track, {b.index for b in clip} or set(by_index)) if self._plates else []
        wanted = set(picks.values()) | ({sharpest.frame_index} if sharpest else set())
        wanted |= {o.frame_index for o in plate_obs}
        images: dict[int, np.ndarray] = {}  # the still images, kept while the clip's frames go by
        names: dict[str, str] = {}
        if clip:
            names |= self._encode_clips(folder, clip, track, v, keep=wanted, kept=images)
        images.update(self._images([by_index[i] for i in sorted(wanted - set(images)) if i in by_index]))
        for kind, index in picks.items():
            if index not in images:
                continue
            box = obs[index].box if index in obs else v.box
            annotated = self._annotate(images[index], v, track, box, by_index[index], colours, job.occurred_at)
            _imwrite(folder / f"{kind}.jpg", annotated)
            names[kind] = f"{kind}.jpg"
        if sharpest is not None:
            _imwrite(folder / "vehicle.jpg", _vehicle_crop(images[sharpest.frame_index], sharpest.box))
            names["vehicle"] = "vehicle.jpg"
        if self._plates is not None and plate_obs:
            names.update(self._read_plate(folder, job, track, plate_obs, images))
        _fsync_dir(folder)
        return names

    def _read_plate(
        self, folder: Path, job: EvidenceJob, track: Track, obs: list[Observation], images: dict[int, np.ndarray]
    ) -> dict[str, str]:
        """Read the plate from the clearest frames already decoded for the package; save its crop.

        A failure of the reader costs the reading, never the package."""
        assert self._plates is not None
        frames = [(o.frame_index, images[o.frame_index], o.box) for o in obs if o.frame_index in images]
        try:
            job.plate = self._plates.read_track(frames, PlateKind.of_label(track.label))
        except Exception as exc:  # noqa: BLE001 - OCR trouble must not lose the evidence
            log.warning("plate of violation %s not read: %s", job.public_id, exc)
            return {}
        if job.plate.crop is None or job.plate.crop.size == 0:
            return {}
        _imwrite(folder / "plate.jpg", job.plate.crop)
        return {"plate": "plate.jpg"}

    def _clip_frames(
        self,
        clip: list[_Buffered],
        chunk: int = PIPE_FRAMES,
        keep: Collection[int] = (),
        kept: dict[int, np.ndarray] | None = None,
    ) -> Iterator[bytes | np.ndarray]:
        """The clip's frames in order, decoded a few at a time so a 720p clip is never all in memory.

        The images of the frames in `keep` are put in `kept` on the way: the still images come
        from the same decoding as the clip instead of seeking into the video a second time.
        """
        for start in range(0, len(clip), chunk):
            part = clip[start : start + chunk]
            images = self._images([b for b in part if b.jpeg is None])
            for b in part:
                if kept is not None and b.index in keep:
                    kept[b.index] = images[b.index] if b.jpeg is None else _decode(b.jpeg)
                yield b.jpeg if b.jpeg is not None else images[b.index]

    def _encode_clips(
        self, folder: Path, clip: list[_Buffered], track: Track, v: Violation, keep: set[int], kept: dict
    ) -> dict[str, str]:
        """`clip.mp4` as recorded and, from the same decoding, `clip_marked.mp4` with the vehicle's
        box and path drawn on every frame (a busy scene has many; the reviewer must see which one).
        The marked copy is encoded in a second thread; if it fails, the package goes without it."""
        marked: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=PIPE_FRAMES)
        failed: list[Exception] = []
        once = iter([lambda: _until_none(marked)])  # an OpenCV fallback cannot have the frames again

        def encode_marked() -> None:
            try:
                encode_clip(lambda: next(once, lambda: iter(()))(), self.fps, folder / "clip_marked.mp4")
            except Exception as exc:
                failed.append(exc)
                for _ in _until_none(marked):  # let the plain clip go on
                    pass

        tee = iter([lambda plain: self._teed(plain, clip, track, v, marked)])
        thread = threading.Thread(target=encode_marked, name="clip-marked", daemon=True)
        thread.start()
        try:
            plain = lambda: self._clip_frames(clip, keep=keep, kept=kept)  # noqa: E731
            encode_clip(lambda: next(tee, lambda f: f)(plain()), self.fps, folder / "clip.mp4")
        finally:
            with contextlib.suppress(queue.Full):
                marked.put_nowait(None)
            thread.join()
        if failed:
            log.warning("no marked clip for violation %s: %s", folder.name, failed[0])
            (folder / "clip_marked.mp4").unlink(missing_ok=True)
            return {"clip": "clip.mp4"}
        return {"clip": "clip.mp4", "clip_marked": "clip_marked.mp4"}

    def _teed(
        self, frames: Iterable[bytes | np.ndarray], clip: list[_Buffered], track: Track, v: Violation,
        marked: queue.Queue[np.ndarray | None],
    ) -> Iterator[bytes | np.ndarray]:  # fmt: skip
        """The clip's frames, passed on untouched; a marked copy of each goes to `marked`."""
        caption = f"#{v.track_id} {v.label}"
        try:
            for b, frame in zip(clip, frames, strict=False):
                image = frame.copy() if isinstance(frame, np.ndarray) else _decode(frame)
                draw.mark_track(image, track.observations, b.index, caption)
                marked.put(image)
                yield frame
        finally:
            marked.put(None)

    def _images(self, frames: list[_Buffered]) -> dict[int, np.ndarray]:
        """Decoded images of buffered frames: from their JPEG bytes, or read again from the source."""
        out = {b.index: _decode(b.jpeg) for b in frames if b.jpeg is not None}
        again = {b.index: b.fingerprint for b in frames if b.jpeg is None}
        if again:
            if self._read_again is None:
                raise OSError(f"frames {sorted(again)[:3]} could not be encoded when they arrived")
            out.update(self._read_again(again))
        return out

    def _annotate(self, image, v, track, box, buffered, colours, occurred_at) -> np.ndarray:  # type: ignore[no-untyped-def]
        colour_now = {sid: self._colour_at(sid, buffered.timestamp) for sid in colours}
        out = draw.draw_scene(image, self.scene, highlight=v.where, signal_colours=colour_now, faint=True)
        path = [o.box.anchor for o in track.observations if o.frame_index <= buffered.index]
        draw.draw_vehicle(out, box, path, f"#{v.track_id} {v.label}")
        if v.signal_id is not None:
            head = self.scene.signal(v.signal_id).box
            draw.signal_inset(out, image, head, colour_now.get(v.signal_id, Colour.UNKNOWN))
        offset = buffered.timestamp - v.timestamp
        frame_time = occurred_at + timedelta(seconds=offset)  # the time of this frame, not of the violation
        local = frame_time.astimezone(ZoneInfo(self.scene.timezone) if self.scene.timezone else None)
        when = local.strftime("%Y-%m-%d %H:%M:%S.%f")[:-5] + local.strftime(" %Z")
        if not self.time_known:
            when = f"TIME UNKNOWN (processed {local:%Y-%m-%d %H:%M})"
        at_least = "at least " if v.details.get("colour_onset") == "before_source" else ""  # began before the video
        signal = (
            f"signal {v.signal_id}: {colour_now.get(v.signal_id, Colour.UNKNOWN).value} now;"
            f" {v.signal_colour.value if v.signal_colour else '?'} for {at_least}{v.seconds_into_colour:.1f} s"
            " at the crossing"
            if v.signal_id
            else "no signal for this rule"
        )
        lines = [
            f"camera {self.scene.camera}   {when}",
            ("" if self.stream else f"video t={buffered.timestamp:.1f} s, ")
            + f"frame {buffered.index} ({offset:+.1f} s from the violation)",
            f"rule {v.rule} at {v.where}   track #{v.track_id} {v.label} (conf {v.confidence:.2f})",
            signal,
        ]
        return draw.data_bar(out, lines)


def _until_none(items: queue.Queue[np.ndarray | None]) -> Iterator[np.ndarray]:
    while (item := items.get()) is not None:
        yield item


def _yield_cpu() -> None:
    """Lower the evidence writer thread's CPU priority (Linux: per thread; the decoder threads and
    the ffmpeg encoder it starts inherit it).

    Writing a package (decoding the frames again, encoding the clip) takes CPU time that the frame
    loop needs on a small machine; at a lower priority the writer takes the cores when detection
    leaves them idle, and still gets its share when it does not, so packages are late, never lost.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICENESS)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: write at normal priority
        log.debug("evidence writer keeps its priority: %s", exc)


def _pick_frames(v: Violation, track: Track, available: dict[int, _Buffered], fps: float) -> dict[str, int]:
    """before: the last observation before the crossing at least ~0.5 s earlier when there is one;
    during: the violation frame; after: about 1 s later, on a frame where the track was seen.

    A violation found late (a track whose class became a vehicle only after a while) may point
    at a frame already gone from the ring buffer: then the nearest buffered frame stands in."""
    if not available:
        return {}
    seen = [o.frame_index for o in track.observations if o.frame_index in available]
    candidates = seen or sorted(available)
    during = v.frame_index if v.frame_index in available else min(candidates, key=lambda i: abs(i - v.frame_index))
    before = [i for i in seen if i < during]
    after = [i for i in seen if i > during]
    half, one = int(round(0.5 * fps)), int(round(1.0 * fps))
    picks = {"during": during}
    if before:
        early = [i for i in before if i <= during - half]
        picks["before"] = early[-1] if early else before[0]
    else:
        picks["before"] = max(min(available), during - one)
    if after:
        late = [i for i in after if i >= during + one]
        picks["after"] = late[0] if late else after[-1]
    else:
        picks["after"] = min(max(available), during + one)
    return picks


def _sharpest(track: Track, available: set[int]) -> Observation | None:
    """The vehicle's clearest observation among the available frames: the largest confident box."""
    candidates: list[Observation] = [o for o in track.observations if o.frame_index in available]
    return max(candidates, key=lambda o: o.box.area * o.confidence) if candidates else None


def _vehicle_crop(image: np.ndarray, box: Box) -> np.ndarray:
    """Crop of the vehicle with a margin; small vehicles are enlarged so a reviewer can read them."""
    crop = _crop(image, box, margin=0.15)
    if crop.shape[0] < 240:
        scale = 240 / crop.shape[0]
        crop = cv2.resize(crop, (int(crop.shape[1] * scale), 240), interpolation=cv2.INTER_CUBIC)
    return crop


def _decode(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def _crop(image: np.ndarray, box: Box, margin: float) -> np.ndarray:
    h, w = image.shape[:2]
    mx, my = box.width * margin, box.height * margin
    x1, y1 = max(0, int(box.x1 - mx)), max(0, int(box.y1 - my))
    x2, y2 = min(w, int(box.x2 + mx) + 1), min(h, int(box.y2 + my) + 1)
    return image[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]


ClipFrames = Iterable[bytes | np.ndarray] | Callable[[], Iterable[bytes | np.ndarray]]


def encode_clip(frames: ClipFrames, fps: float, out: Path) -> None:
    """H.264 MP4 that browsers play (ffmpeg from imageio-ffmpeg); OpenCV's mp4v as a fallback.

    `frames` are JPEG bytes (piped to ffmpeg as they are) or decoded BGR images (piped raw), or a
    function giving them afresh (streamed one by one; called again for the fallback)."""
    again = frames if callable(frames) else (lambda: frames)
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        exe = shutil.which("ffmpeg")
    if exe and _ffmpeg_clip(exe, iter(again()), fps, out):
        return
    writer = None
    try:
        for frame in again():
            image = frame if isinstance(frame, np.ndarray) else _decode(frame)
            if writer is None:
                fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                writer = cv2.VideoWriter(str(out), fourcc, fps, (image.shape[1], image.shape[0]))
            writer.write(image)
    finally:
        if writer is not None:
            writer.release()
    if not out.exists() or out.stat().st_size == 0:
        raise OSError(f"could not encode clip {out}")


def _ffmpeg_clip(exe: str, frames: Iterator[bytes | np.ndarray], fps: float, out: Path) -> bool:
    """Pipe the frames to ffmpeg's x264 from a second thread, so decoding the next frames (here, in
    the caller's thread) and encoding the last ones (in ffmpeg) run at the same time. Decoded
    images go as planar YUV 4:2:0, what x264 encodes, so ffmpeg does not convert each frame."""
    first = next(frames, None)
    if first is None:
        return False
    if isinstance(first, np.ndarray):  # a file's frames, decoded again; a stream's are JPEG bytes
        h, w = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2  # 4:2:0 needs even sides
        source = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}"]
    else:
        source = ["-f", "image2pipe", "-c:v", "mjpeg"]

    def to_bytes(f: bytes | np.ndarray) -> bytes:
        if isinstance(f, bytes):
            return f
        return cv2.cvtColor(np.ascontiguousarray(f[:h, :w]), cv2.COLOR_BGR2YUV_I420).tobytes()

    cmd = [
        exe, "-hide_banner", "-loglevel", "error", "-y", *source,
        "-framerate", f"{fps:.3f}", "-i", "-", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
        "-c:v", "libx264", "-preset", CLIP_PRESET, "-crf", "26", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", str(out),
    ]  # fmt: skip
    # its own session: a Ctrl-C to the terminal's process group must not kill the encoder of a clip that
    # the daemon, stopping, still finishes (it would fall back to MPEG-4 Part 2)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    assert proc.stdin is not None
    stdin = proc.stdin
    feed: queue.Queue[bytes | None] = queue.Queue(maxsize=PIPE_FRAMES)
    broken: list[OSError] = []

    def pump() -> None:  # inherits the writer thread's priority (Linux threads take their creator's nice)
        for data in iter(feed.get, None):
            if not broken:  # after ffmpeg has gone, drain the rest so the caller never blocks
                try:
                    stdin.write(data)
                except OSError as exc:
                    broken.append(exc)
        with contextlib.suppress(OSError):
            stdin.close()

    writer = threading.Thread(target=pump, name="clip-pipe", daemon=True)
    writer.start()
    try:
        for f in itertools.chain([first], frames):
            feed.put(to_bytes(f))
    except BaseException:
        proc.kill()  # a frame could not be read: no clip, and no ffmpeg left waiting on its input
        raise
    finally:
        feed.put(None)
        writer.join()
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.returncode == 0 and not broken:
        return True
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    log.warning("ffmpeg could not encode %s (%s); using OpenCV", out, stderr[-200:])
    return False


def _imwrite(path: Path, image: np.ndarray) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise OSError(f"could not encode {path.name}")
    with path.open("wb") as f:
        f.write(buf.tobytes())
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    for p in folder.iterdir():
        if p.suffix == ".mp4":
            with p.open("rb") as f:
                os.fsync(f.fileno())

