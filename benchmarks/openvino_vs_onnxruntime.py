"""Raw inference time of the shipped ONNX models: ONNX Runtime (what trafficcam runs) vs OpenVINO.

    PYTHONPATH=/tmp/ovpkg:. .venv/bin/python benchmarks/openvino_vs_onnxruntime.py [--runs 200]

OpenVINO is not a dependency of trafficcam: install it anywhere on PYTHONPATH for this measurement
(`pip install --target /tmp/ovpkg openvino`). For each model of the default fused pair (and
`coco-n` int8), one real Hanoi frame letterboxed to the model's input, run `--runs` times on one
inference at a time: ONNX Runtime's CPU provider as trafficcam builds it (spinning off,
detector/yolo.py `quiet_onnx_threads`) and OpenVINO's CPU plugin (f32 inference: this CPU has no
bf16 instructions; latency hint), alternated call by call. Reports the median and p90 ms, and the largest difference
between the two outputs on the same input. Writes BENCHMARKS.md, section "OpenVINO vs ONNX Runtime".
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.report import replace_section  # noqa: E402

TITLE = "OpenVINO vs ONNX Runtime"
MODELS = ("vn2", "coco-n-f16", "coco-n")


def letterbox(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    resized = cv2.resize(image, (round(w * r), round(h * r)), interpolation=cv2.INTER_LINEAR)
    out = np.full((size, size, 3), 114, np.uint8)
    y, x = (size - resized.shape[0]) // 2, (size - resized.shape[1]) // 2
    out[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return np.ascontiguousarray(out[..., ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def timed(first, second, runs: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """ms per call of each, the two alternated so that both meet the same load on a shared machine."""
    for _ in range(10):
        first(), second()
    out: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for run, times in ((first, out[0]), (second, out[1])):
            t = time.perf_counter()
            run()
            times.append(1000 * (time.perf_counter() - t))
    return out


def main() -> None:
    import onnxruntime as ort

    try:
        import openvino as ov
    except ImportError:
        raise SystemExit("needs openvino on PYTHONPATH: pip install --target /tmp/ovpkg openvino") from None
    from detector.weights import resolve

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = p.parse_args()
    os.environ.setdefault("TRAFFICCAM_MODEL_PATH", str(args.shared / "models"))
    cap = cv2.VideoCapture(str(args.shared / "clips" / "hanoi_ltk_hangbai" / "16h30.25.9.22.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, frame = cap.read()
    if not ok:
        raise SystemExit("cannot read the Hanoi clip under --shared")
    core = ov.Core()
    load = os.getloadavg()[0]
    rows = []
    for name in MODELS:
        try:
            weights = resolve(name)
        except Exception as exc:  # noqa: BLE001 - a model not present here is left out, said so
            rows.append(f"| {name} | not present: {exc} | | | |")
            continue
        size = weights.imgsz or 640
        x = letterbox(frame, size)
        opts = ort.SessionOptions()
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(weights.path, opts, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x.astype(np.float16) if "16" in sess.get_inputs()[0].type else x}
        ort_out = sess.run(None, feed)[0].astype(np.float32)
        compiled = core.compile_model(weights.path, "CPU", {"PERFORMANCE_HINT": "LATENCY",
                                                           "INFERENCE_PRECISION_HINT": "f32"})  # fmt: skip
        request = compiled.create_infer_request()
        ov_in = next(iter(feed.values()))
        ov_out = np.asarray(request.infer([ov_in])[compiled.output(0)], np.float32)
        diff = float(np.abs(ov_out - ort_out).max())
        ort_ms, ov_ms = timed(lambda s=sess, f=feed: s.run(None, f), lambda r=request, i=ov_in: r.infer([i]), args.runs)

        def fmt(ms: list[float]) -> str:
            return f"{statistics.median(ms):.1f} / {np.percentile(ms, 90):.1f}"

        rows.append(
            f"| {name} ({Path(weights.path).name}, {size}) | {fmt(ort_ms)} | {fmt(ov_ms)} "
            f"| {statistics.median(ort_ms) / statistics.median(ov_ms):.2f}x | {diff:.3g} |"
        )
        print(rows[-1], flush=True)
    body = [
        f"`benchmarks/openvino_vs_onnxruntime.py --runs {args.runs}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on "
        f"{platform.node()} ({os.cpu_count()} cores, {platform.processor() or platform.machine()}, no avx512_bf16), "
        f"load average {load:.1f} before (the machine is shared); ONNX Runtime {ort.__version__}, OpenVINO "
        f"{ov.__version__} (f32). One inference at a time on one real Hanoi frame, the two alternated call by "
        "call, ms median / p90:",
        "",
        "| model | ONNX Runtime | OpenVINO | ORT / OV | largest output difference |",
        "|---|---|---|---:|---:|",
        *rows,
    ]
    replace_section(args.output, TITLE, "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
