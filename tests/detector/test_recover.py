"""The PyTorch YOLOv8n recovered from the int8 ONNX export computes what the ONNX model computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import need_shared

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


def _letterbox(frame: np.ndarray, size: int = 320) -> np.ndarray:
    from ultralytics.data.augment import LetterBox

    img = LetterBox((size, size), auto=False)(image=frame)
    return np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255.0


def _hanoi_at(indices) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    import cv2

    cap = cv2.VideoCapture(str(need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")))
    frames = []
    for index in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        assert ok, f"cannot read frame {index} of the Hanoi clip"
        frames.append(frame)
    cap.release()
    return frames


def _frames() -> list[np.ndarray]:
    import cv2
    import ultralytics

    return [cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "bus.jpg")), *_hanoi_at((50, 450))]


@pytest.fixture(scope="module")
def recovered():
    from detector.recover import recover_yolov8n

    onnx_path = need_shared("models", "yolov8n_int8.onnx")
    return onnx_path, recover_yolov8n(onnx_path)


def test_every_int8_convolution_is_read_with_scale_and_zero_point():
    from detector.recover import read_quantised_weights

    weights, biases, meta = read_quantised_weights(need_shared("models", "yolov8n_int8.onnx"))
    assert len(weights) == 64 and "model.0.conv" in weights
    assert weights["model.0.conv"].shape == (16, 3, 3, 3) and biases["model.0.conv"].shape == (16,)
    assert meta["imgsz"] == "[320, 320]"


def _vn() -> tuple[Path, object]:
    from detector.recover import recover_yolov8n

    onnx_path = Path(__file__).parents[2] / "models" / "vn_yolov8n_320.onnx"
    return onnx_path, recover_yolov8n(onnx_path)


def test_a_fine_tune_with_coco_class_branch_width_is_recovered_too():
    """`vn` has 6 classes but kept COCO's 80-channel class branch; a fresh 6-class build has 64."""
    onnx_path, model = _vn()
    assert model.names[2] == "motobike" and len(model.names) == 6
    assert model.model[-1].cv3[0][0].conv.out_channels == 80
    _assert_reproduces(onnx_path, model, frames=_frames()[1:])  # bus.jpg has no Vietnamese traffic


def test_a_float_export_made_here_is_recovered_too():
    """`vn2` is an fp32 graph whose weights are stored as fp16 (`half_weights`): fine-tunable again."""
    from detector.recover import read_quantised_weights, recover_yolov8n

    onnx_path = Path(__file__).parents[2] / "models" / "vn2_yolov8n_320.onnx"
    weights, biases, _ = read_quantised_weights(onnx_path)
    assert len(weights) == 64 and weights["model.0.conv"].dtype == np.float32
    model = recover_yolov8n(onnx_path)
    assert model.names[2] == "motobike" and len(model.names) == 6
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for frame in _frames()[1:]:
        x = _letterbox(frame)
        want = session.run(None, {"images": x})[0][0]
        with torch.no_grad():
            got = model(torch.from_numpy(x))[0][0].numpy()
        assert (want[4:].max(0) > 0.25).sum() >= 20
        # Nothing is quantised at run time: the same function up to float rounding.
        assert np.abs(want[4:] - got[4:]).max() < 1e-4
        assert np.abs(want[:4] - got[:4]).max() < 0.01  # pixels at 320


def test_recovered_model_reproduces_onnx_class_scores_and_boxes(recovered):
    onnx_path, model = recovered
    assert model.names[3] == "motorcycle" and len(model.names) == 80
    _assert_reproduces(onnx_path, model)


def _assert_reproduces(onnx_path: Path, model, frames: list[np.ndarray] | None = None) -> None:
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for frame in frames if frames is not None else _frames():
        x = _letterbox(frame)
        want = session.run(None, {"images": x})[0][0]
        with torch.no_grad():
            got = model(torch.from_numpy(x))[0][0].numpy()
        confident = want[4:].max(0) > 0.25
        assert confident.sum() >= 20  # real objects in every frame
        # The ONNX model quantises activations at run time too, so scores differ a little, not a lot.
        assert np.abs(want[4:] - got[4:]).max() < 0.15
        assert np.abs(want[4:, confident] - got[4:, confident]).mean() < 0.02
        assert np.abs(want[:4, confident] - got[:4, confident]).max() < 5.0  # pixels at 320
        assert (want[4:, confident].argmax(0) == got[4:, confident].argmax(0)).mean() > 0.95


def test_seeded_head_starts_dataset_classes_from_their_coco_rows(recovered):
    from detector.recover import seed_head

    _, model = recovered
    names = {0: "car", 1: "green_light", 2: "motobike", 3: "stop_line"}
    seeded = seed_head(model, names)
    src, dst = model.model[-1].cv3[0][-1], seeded.model[-1].cv3[0][-1]
    assert dst.out_channels == 4 and seeded.names == names
    assert torch.equal(dst.weight[2], src.weight[3])  # motobike <- motorcycle
    assert torch.equal(dst.weight[1], src.weight[9])  # green_light <- traffic light
    assert not torch.equal(dst.weight[3], src.weight[0])  # stop_line has no COCO counterpart


def _hanoi_frames(count: int = 8, start: int = 0) -> list[np.ndarray]:
    return _hanoi_at(range(start, start + 40 * count, 40))


def _train_vs_eval(model, x) -> float:  # type: ignore[no-untyped-def]
    """Relative difference of the backbone's output (layer 9) in training mode against eval mode."""
    seen = {}
    handle = model.model[9].register_forward_hook(lambda _m, _i, out: seen.__setitem__("out", out.clone()))
    with torch.no_grad():
        model.eval()
        model(x)
        evaluated = seen["out"]
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.momentum = 0.0  # a training-mode pass must not move the running statistics
        model.train()
        model(x)
        model.eval()
    handle.remove()
    return float((seen["out"] - evaluated).norm() / evaluated.norm())


def test_calibrated_batchnorm_keeps_the_function_and_lets_training_start_from_it():
    from detector.recover import calibrate_batchnorm, recover_yolov8n

    frames = _hanoi_frames()
    x = torch.from_numpy(np.concatenate([_letterbox(f) for f in frames]))
    model = recover_yolov8n(Path(__file__).parents[2] / "models" / "vn2_yolov8n_320.onnx")
    with torch.no_grad():
        before = model(x)[0]
    identity = _train_vs_eval(model, x)
    calibrate_batchnorm(model, _hanoi_frames(start=20))  # other frames than those it is then run on
    with torch.no_grad():
        after = model(x)[0]
    assert np.abs((after - before)[:, 4:].numpy()).max() < 1e-4  # the same detector at inference
    calibrated = _train_vs_eval(model, x)
    # identity batch-norms turn into a different network once trained on batch statistics
    assert identity > 0.5 and calibrated < 0.15, (identity, calibrated)
