"""Training frames rendered with exact YOLO labels."""

from __future__ import annotations

from pathlib import Path

import yaml

from detector.evaluate import dataset_names, list_images
from detector.labels import normalise
from pipeline.sample.dataset import CLASSES, DatasetSpec, write_dataset, yolo_labels
from pipeline.sample.render import UserBox


def test_a_dataset_has_an_image_and_a_label_file_per_frame(tmp_path: Path):
    spec = DatasetSpec(clips=2, seconds=2.0, step=5, night_every=2)
    root = write_dataset(spec, tmp_path / "ds")
    images = list_images(root)
    assert len(images) == spec.images == 8
    assert any("_n_" in p.name for p in images) and any("_d_" in p.name for p in images)
    for image in images:
        lines = (root / "labels" / f"{image.stem}.txt").read_text().splitlines()
        for line in lines:
            cls, *box = line.split()
            assert int(cls) in range(len(CLASSES)) and all(0.0 <= float(v) <= 1.0 for v in box)
    assert dataset_names(root) == dict(enumerate(CLASSES))
    assert yaml.safe_load((root / "data.yaml").read_text())["rendered_by"]["first_seed"] == 1000


def test_class_names_are_trafficcam_labels_as_they_are():
    assert [normalise(name) for name in CLASSES] == ["car", "motorcycle", "bus"]


def test_hidden_and_tiny_road_users_are_not_labelled():
    users = (
        UserBox(1, "car", "background", (100, 100, 200, 160), 1.0, 0.9),  # labelled
        UserBox(2, "bus", "background", (300, 50, 400, 200), 1.0, 0.2),  # mostly behind a nearer one
        UserBox(3, "motorcycle", "background", (10, 10, 14, 30), 1.0, 1.0),  # 4 px wide
    )
    lines = yolo_labels(users, 640, 360)
    assert len(lines) == 1 and lines[0].startswith("0 ")


def test_rendering_again_into_the_same_folder_leaves_no_frames_of_the_earlier_run(tmp_path: Path):
    write_dataset(DatasetSpec(clips=2, seconds=1.0, step=5), tmp_path / "ds")
    root = write_dataset(DatasetSpec(clips=1, seconds=1.0, step=5), tmp_path / "ds")
    assert len(list_images(root)) == 2 and len(list((root / "labels").iterdir())) == 2
