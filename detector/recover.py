"""Recover a trainable PyTorch YOLOv8n from the int8 ONNX export of Ultralytics' COCO weights
(or from a float export made here, which stores its fused weights under the same module names).

The only pretrained weights reachable offline are `yolov8n_int8.onnx` (see ../shared/models). Its
64 convolutions are stored as per-tensor int8 weights (`<module>.weight_quantized`, `_scale`,
`_zero_point`) under the original module names, with float biases; the export had fused each
batch-norm into its convolution. We dequantise each weight, `w = (q - zero_point) * scale`, and
load it into an *unfused* YOLOv8n built from ultralytics' `yolov8n.yaml` whose batch-norms are set
to the identity (mean 0, variance 1 - eps, gamma 1, beta = the fused bias). The result computes the
same function as the ONNX model but is an ordinary checkpoint that ultralytics' trainer fine-tunes
with live batch-norm statistics.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_Q = "weight_quantized"

# Dataset class name -> COCO class whose classification row seeds it (None: random init).
# Names are matched after trafficcam's own normalisation (detector/labels.py) first.
SIGNAL_SEEDS = {"red_light": "traffic light", "green_light": "traffic light", "yellow_light": "traffic light"}


class RecoveryError(Exception):
    """The ONNX file is not a YOLOv8n export whose layout this module knows how to read."""


def read_quantised_weights(onnx_path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """Conv weights and biases by module name, as float32, and the ONNX metadata.

    Reads the int8 export (``<module>.weight_quantized`` with per-tensor scale and zero point,
    dequantised) and this project's float exports (``<module>.weight``, or ``.weight_fp16`` where
    `detector.training.half_weights` stored it as fp16), so a model trained here, `vn2`, can be
    fine-tuned further.

    Returns:
        (weights, biases, metadata): `weights["model.0.conv"]` is a float32 OIHW array.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    weights, biases = {}, {}
    for name, array in init.items():
        module, _, kind = name.rpartition(".")
        if kind == _Q:
            scale, zero = init.get(module + ".weight_scale"), init.get(module + ".weight_zero_point")
            if scale is None or zero is None or scale.ndim != 0:
                raise RecoveryError(f"{module}: expected a per-tensor scale and zero point, got scale {scale!r}")
            weights[module] = ((array.astype(np.float32) - np.float32(zero)) * np.float32(scale)).astype(np.float32)
        elif kind in ("weight", "weight_fp16") and array.ndim == 4 and module.startswith("model."):
            weights[module] = array.astype(np.float32)
        elif kind in ("bias", "bias_fp16") and array.ndim == 1 and module.startswith("model."):
            biases[module] = array.astype(np.float32)
    if not weights:
        raise RecoveryError(f"{onnx_path}: no convolution weights named after YOLOv8 modules (model.N...)")
    meta = {p.key: p.value for p in model.metadata_props}
    return weights, biases, meta


def _coco_names(meta: Mapping[str, str]) -> dict[int, str]:
    import ast

    try:
        return {int(k): str(v) for k, v in ast.literal_eval(meta["names"]).items()}
    except (KeyError, ValueError, SyntaxError) as exc:
        raise RecoveryError(f"ONNX metadata has no readable 'names': {exc}") from None


def recover_yolov8n(onnx_path: str | Path, cfg: str = "yolov8n.yaml"):  # type: ignore[no-untyped-def]
    """Build ultralytics' DetectionModel from `cfg` and fill it from the int8 ONNX export.

    Returns:
        An unfused `DetectionModel` (eval mode, float32) with the ONNX model's class names.

    Raises:
        RecoveryError: a convolution of the model has no weights in the file, or shapes differ.
    """
    import torch
    from torch import nn
    from ultralytics.nn.modules import Conv
    from ultralytics.nn.tasks import DetectionModel

    weights, biases, meta = read_quantised_weights(onnx_path)
    names = _coco_names(meta)
    model = DetectionModel(cfg, nc=len(names), verbose=False)
    _match_class_branch(model, weights)
    used = set()
    with torch.no_grad():
        for mod_name, mod in model.named_modules():
            if isinstance(mod, Conv):
                key = f"{mod_name}.conv"
                w, b = weights.get(key), biases.get(key)
                if w is None or b is None:
                    raise RecoveryError(f"no int8 weight/bias for {key} in {onnx_path}")
                _copy(mod.conv.weight, w, key)
                bn = mod.bn  # identity batch-norm carrying the fused bias
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
                bn.weight.fill_(1.0)
                bn.bias.copy_(torch.from_numpy(b))
                used.add(key)
            elif isinstance(mod, nn.Conv2d) and mod.bias is not None and mod_name in weights:
                _copy(mod.weight, weights[mod_name], mod_name)
                mod.bias.copy_(torch.from_numpy(biases[mod_name]))
                used.add(mod_name)
    # DFL's conv is a fixed arange(16) projection; its int8 copy is only an approximation of it.
    missing = set(weights) - used - {k for k in weights if k.endswith("dfl.conv")}
    if missing:
        raise RecoveryError(f"weights in the ONNX file that the model has no place for: {sorted(missing)[:5]}")
    model.names = names
    imgsz = int(meta.get("imgsz", "[320]").strip("[]").split(",")[0])
    model.args = {"imgsz": imgsz, "task": "detect"}  # type: ignore[assignment]
    model.pt_path = str(onnx_path)
    return model.float().eval()


def _match_class_branch(model, weights: Mapping[str, np.ndarray]) -> None:  # type: ignore[no-untyped-def]
    """Give the head's class branch the hidden width stored in `weights`.

    ultralytics sizes that branch from the class count (max(64, min(nc, 100)) channels), but a
    model fine-tuned from COCO keeps COCO's 80 (see `seed_head`), so a 6-class `vn` has 80 where a
    fresh 6-class model has 64.
    """
    import copy

    from torch import nn
    from ultralytics.nn.tasks import DetectionModel

    head: Any = model.model[-1]
    key = f"model.{len(model.model) - 1}.cv3.0.0.conv"
    stored = weights.get(key)
    built = head.cv3[0][0].conv.out_channels
    if stored is None or stored.shape[0] == built:
        return
    width = int(stored.shape[0])
    donor: Any = DetectionModel(copy.deepcopy(model.yaml), nc=width, verbose=False).model[-1]
    if donor.cv3[0][0].conv.out_channels != width:
        raise RecoveryError(f"{key}: no class branch of ultralytics' builds has {width} channels")
    head.cv3 = copy.deepcopy(donor.cv3)
    for branch in head.cv3:
        branch[-1] = nn.Conv2d(width, head.nc, 1)


def _copy(param, array: np.ndarray, key: str) -> None:  # type: ignore[no-untyped-def]
    import torch

    if tuple(param.shape) != array.shape:
        raise RecoveryError(f"{key}: model expects {tuple(param.shape)}, ONNX has {array.shape}")
    param.copy_(torch.from_numpy(array))


def seed_head(model, names: Mapping[int, str]):  # type: ignore[no-untyped-def]
    """A copy of a COCO `model` re-headed for dataset classes `names`.

    Each dataset class starts from the start model's class row it corresponds to (`motobike` from
    `motorcycle` via detector/labels.py and back, lit signal heads from `traffic light`); others
    start as ultralytics initialises them.
    """
    import copy

    import torch
    from torch import nn
    from ultralytics.nn.tasks import DetectionModel

    from detector.labels import normalise

    src_names = {v: k for k, v in model.names.items()}
    for k, v in model.names.items():  # a Vietnamese start's `motobike` seeds a `motorcycle` row
        label = normalise(v)
        if label is not None:
            src_names.setdefault(label, k)
    target = DetectionModel(copy.deepcopy(model.yaml), nc=len(names), verbose=False)
    target.names = dict(names)
    head_src: Any = model.model[-1]
    head_dst: Any = target.model[-1]  # type: ignore[index]
    # The class branch's hidden width depends on nc; keep COCO's (as ultralytics' own transfer does).
    head_dst.cv3 = copy.deepcopy(head_src.cv3)
    for branch in head_dst.cv3:
        branch[-1] = nn.Conv2d(branch[-1].in_channels, len(names), 1)
    head_dst.bias_init()
    dst_state = target.state_dict()
    state = {k: v for k, v in model.state_dict().items() if k in dst_state and v.shape == dst_state[k].shape}
    target.load_state_dict(state, strict=False)
    seeds = {}
    for i, name in names.items():
        key = name.strip().lower()
        src = key if key in src_names else SIGNAL_SEEDS.get(key) or normalise(key) or key
        if src in src_names:
            seeds[i] = src_names[src]
    with torch.no_grad():
        for s, d in zip(head_src.cv3, head_dst.cv3, strict=True):
            for i, j in seeds.items():
                d[-1].weight[i] = s[-1].weight[j]
                d[-1].bias[i] = s[-1].bias[j]
    target.args = dict(getattr(model, "args", {}))  # type: ignore[assignment]
    log.info("seeded head rows %s", {names[i]: model.names[j] for i, j in seeds.items()})
    return target.float().eval()


def calibrate_batchnorm(model, images: Sequence[np.ndarray], imgsz: int = 320, batch: int = 16):  # type: ignore[no-untyped-def]
    """Give each identity batch-norm of a recovered `model` its convolution's output statistics
    on `images` (BGR frames), keeping the function the model computes.

    A recovered model's batch-norms are identities (mean 0, variance 1) carrying the fused bias.
    That is exact at inference, but a trainer runs batch-norm on each batch's own statistics, which
    for these convolutions are far from mean 0 and variance 1: the first training step then sees a
    different network, and fine-tuning starts by undoing what the weights knew. With the measured
    mean m and variance v of each convolution's output, gamma = sqrt(v + eps) and beta = bias + m
    give exactly the same output at inference (gamma (x - m) / sqrt(v + eps) + beta = x + bias) and
    nearly the same on a training batch. (Any batch-norm is rescaled the same way, so calibrating a
    trained model keeps its function too.)

    Returns:
        `model`, changed in place, in eval mode.
    """
    import torch
    from ultralytics.data.augment import LetterBox
    from ultralytics.nn.modules import Conv

    if not images:
        raise RecoveryError("no images to calibrate batch-norm statistics on")
    letterbox = LetterBox(new_shape=(imgsz, imgsz), auto=False)
    tensors = [
        torch.from_numpy(np.ascontiguousarray(letterbox(image=im)[..., ::-1].transpose(2, 0, 1))).float() / 255.0
        for im in images
    ]
    convs = {name: mod for name, mod in model.named_modules() if isinstance(mod, Conv)}
    sums: dict[str, list] = {name: [0.0, 0.0, 0] for name in convs}  # sum, sum of squares, count per channel

    def hook(name: str):  # type: ignore[no-untyped-def]
        def record(_module, _inputs, output) -> None:  # type: ignore[no-untyped-def]
            y = output.detach().double()
            acc = sums[name]
            acc[0] = acc[0] + y.sum((0, 2, 3))
            acc[1] = acc[1] + (y * y).sum((0, 2, 3))
            acc[2] += y.shape[0] * y.shape[2] * y.shape[3]

        return record

    handles = [mod.conv.register_forward_hook(hook(name)) for name, mod in convs.items()]
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(tensors), batch):
                model(torch.stack(tensors[start : start + batch]))
    finally:
        for handle in handles:
            handle.remove()
    with torch.no_grad():
        for name, mod in convs.items():
            total, squares, count = sums[name]
            mean = total / count
            var = (squares / count - mean * mean).clamp(min=0.0)
            bn = mod.bn  # in eval mode: gamma (x - mean0) / std0 + beta; keep that function
            gamma, std0 = bn.weight.double(), torch.sqrt(bn.running_var.double() + bn.eps)
            std = torch.sqrt(var + bn.eps)
            bn.bias.copy_((bn.bias.double() + gamma * (mean - bn.running_mean.double()) / std0).float())
            bn.weight.copy_((gamma * std / std0).float())
            bn.running_mean.copy_(mean.float())
            bn.running_var.copy_(var.float())
    return model


def save_checkpoint(model, path: str | Path) -> Path:  # type: ignore[no-untyped-def]
    """Write `model` as an ultralytics checkpoint that `YOLO(path)` loads and `.train()` fine-tunes."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": dict(getattr(model, "args", {})), "epoch": -1}, path)
    return path


def export_float(onnx_path: str | Path, out: str | Path, imgsz: int = 320) -> Path:
    """Recover the int8 YOLOv8n `onnx_path` and export it again as an fp32 graph with fp16-stored
    weights (half weights, full-precision arithmetic).

    Dynamic int8 runs as ConvInteger, which ONNX Runtime's CPU provider executes several times
    slower than float convolutions (89 ms against 17 ms per 320-px frame measured on this
    project's 2-core machine), so the float export is the fast one.
    """
    import tempfile

    from ultralytics import YOLO

    from detector.training import half_weights

    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="trafficcam-export-") as tmp:
        pt = save_checkpoint(recover_yolov8n(onnx_path), Path(tmp) / "recovered.pt")
        fp32 = Path(YOLO(str(pt)).export(format="onnx", imgsz=imgsz, simplify=False, dynamic=False, opset=17))
        out.parent.mkdir(parents=True, exist_ok=True)
        half_weights(fp32, out)
    return out


if __name__ == "__main__":  # python -m detector.recover INT8.onnx OUT.onnx
    import sys

    print(export_float(sys.argv[1], sys.argv[2]))
