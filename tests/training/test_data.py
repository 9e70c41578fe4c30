"""Data loading for training at scale: the papers' ImageNet crops, and loader workers giving the same batches."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from xnorflow.training.data import load_dataset, random_resized_crop
from xnorflow.training.devices import resolve
from xnorflow.training.trainer import TrainConfig, _loader

pytestmark = pytest.mark.fast


def _image(width: int, height: int) -> Image.Image:
    values = np.arange(width * height * 3, dtype=np.uint32).reshape(height, width, 3) % 251
    return Image.fromarray(values.astype(np.uint8))


def test_random_resized_crop_of_the_whole_square_is_the_image() -> None:
    image = _image(24, 24)
    crop = random_resized_crop(image, 24, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert np.array_equal(np.asarray(crop), np.asarray(image))


def test_random_resized_crop_falls_back_to_the_centre_crop_clamped_to_the_ratio() -> None:
    image = _image(100, 10)  # 10:1, no 3:4..4:3 crop of the whole area fits
    crop = random_resized_crop(image, 16, scale=(1.0, 1.0))
    assert np.array_equal(np.asarray(crop), np.asarray(image.resize((16, 16), box=(43, 0, 56, 10))))


def _folder(root: Path) -> Path:
    for split in ("train", "val"):
        for label in ("a", "b"):
            (root / split / label).mkdir(parents=True)
            for i in range(2):
                _image(40 + i, 30).save(root / split / label / f"{i}.png")
    return root


@pytest.mark.parametrize("random_resize,augment", [(False, "rescaled"), (True, "resized")])
def test_imagefolder_train_crops_and_the_eval_centre_crop(tmp_path: Path, random_resize: bool, augment: str) -> None:
    data = load_dataset("imagefolder", _folder(tmp_path), 16, random_resize=random_resize)
    assert (data.train.augment, data.test.augment, data.streamed) == (augment, None, True)
    assert data.train[0][0].shape == data.test[0][0].shape == (3, 16, 16)
    assert torch.equal(data.test[3][0], data.test[3][0]) and data.test[3][1] == 1


def test_loader_workers_give_the_same_batches(tmp_path: Path) -> None:
    data = load_dataset("digits")
    batches = {}
    for workers in (0, 2):
        cfg = TrainConfig(model="tiny-bireal", data="digits", out=str(tmp_path), limit=200, workers=workers)
        loader = _loader(cfg, data, data.train, resolve("cpu"), shuffle=True, batch_size=64)
        loader.generator.manual_seed(7)
        batches[workers] = list(loader)
    assert len(batches[0]) == len(batches[2]) == 4
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(batches[0], batches[2]))
