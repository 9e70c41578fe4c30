"""Data sets by name: digits (sklearn, offline), fashion-mnist (Debian idx files), cifar10/100 (pickle folder), imagefolder.

imagefolder is read with Pillow here because torchvision does not import beside the pinned torch
on these machines; everything else is plain numpy/torch. Nothing is downloaded: data comes from --data-root.
"""
import gzip
import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset, TensorDataset

from xnorflow.errors import XnorflowError
from xnorflow.training.datasets import DATASETS

FASHION_ROOT = Path("/usr/share/datasets/fashion-mnist")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
UNIT_RANGE = (-1.0, 1.0)  # pixels scaled to [-1, 1] (digits, Fashion-MNIST)


def normalised_range(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[float, float]:
    """The smallest and largest value (p - mean) / std takes over pixels p in [0, 1], over every channel."""
    return min(-m / s for m, s in zip(mean, std)), max((1 - m) / s for m, s in zip(mean, std))


@dataclass
class DataBundle:
    """Train and test splits plus the image geometry a model must accept."""

    name: str
    train: Dataset
    test: Dataset
    in_channels: int
    num_classes: int
    input_size: int
    pixel_range: tuple[float, float]  # every value a normalised pixel can take (the input grid must hold it)
    streamed: bool = False  # images decoded from files per item: worth data-loader workers


def load_dataset(name: str, root: str | Path | None = None, input_size: int | None = None,
                 random_resize: bool = False) -> DataBundle:
    """Load data set `name` (from `root` where it needs files); one clear error when it is missing.

    random_resize: imagefolder's training crops are random-resized (ReActNet's) instead of Bi-Real's fixed scale."""
    if name == "imagefolder":
        return _imagefolder(Path(root) if root else None, input_size, random_resize)
    loaders = {"digits": _digits, "fashion-mnist": _fashion, "cifar10": _cifar10, "cifar100": _cifar100}
    if name not in loaders:
        raise XnorflowError(f"unknown data set '{name}'", f"use one of: {', '.join(DATASETS)}")
    return loaders[name](Path(root) if root else None, input_size)


def _missing(what: str, path: Path, fix: str) -> XnorflowError:
    return XnorflowError(f"{what} not found at {path}", fix)


def _digits(_root: Path | None, _size: int | None) -> DataBundle:
    """sklearn's 8x8 digits, 0..16 scaled to [-1, 1]; a fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
    y = torch.tensor(digits.target, dtype=torch.long)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0, stratify=digits.target)
    return DataBundle("digits", TensorDataset(x[tr], y[tr]), TensorDataset(x[te], y[te]), 1, 10, 8,
                      UNIT_RANGE)


def _read_idx(path: Path) -> np.ndarray:
    """An idx(.gz) file as a numpy array (the MNIST format: magic, dims, big-endian sizes, uint8 data)."""
    with gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = np.frombuffer(data, ">u4", ndim, offset=4)
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _fashion(root: Path | None, _size: int | None) -> DataBundle:
    """Fashion-MNIST 28x28 from the idx files of Debian's dataset-fashion-mnist (or a folder given)."""
    root = root or FASHION_ROOT
    files = {}
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            path = root / f"{split}-{kind}-ubyte.gz"
            if not path.exists():
                raise _missing("Fashion-MNIST", path, "apt-get install dataset-fashion-mnist, or pass --data-root "
                               "DIR holding train-/t10k- images-idx3-ubyte.gz and labels-idx1-ubyte.gz")
            files[split, kind] = _read_idx(path)

    def split(name: str) -> TensorDataset:
        x = torch.tensor(files[name, "images-idx3"], dtype=torch.float32).unsqueeze(1) / 127.5 - 1.0
        return TensorDataset(x, torch.tensor(files[name, "labels-idx1"], dtype=torch.long))

    return DataBundle("fashion-mnist", split("train"), split("t10k"), 1, 10, 28, UNIT_RANGE)


class AugmentedTensors(Dataset):
    """Tensor images with random crop (zero pad 4) and horizontal flip while training (standard CIFAR augmentation)."""

    def __init__(self, x: Tensor, y: Tensor, augment: bool) -> None:
        self.x, self.y, self.augment = x, y, augment

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        x = self.x[i]
        if self.augment:
            size = x.shape[-1]
            dy, dx = torch.randint(0, 9, (2,)).tolist()
            x = torch.nn.functional.pad(x, (4, 4, 4, 4))[:, dy:dy + size, dx:dx + size]
            if torch.rand(()) < 0.5:
                x = x.flip(-1)
        return x, self.y[i]


def _cifar_tensors(batches: list[dict], label_key: bytes) -> tuple[Tensor, Tensor]:
    x = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)
    y = np.concatenate([b[label_key] for b in batches])
    x = (torch.tensor(x, dtype=torch.float32) / 255.0 - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return x, torch.tensor(y, dtype=torch.long)


def _unpickle(path: Path, what: str, fix: str) -> dict:
    if not path.exists():
        raise _missing(what, path, fix)
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


def _cifar(root: Path | None, folder: str, train: list[str], test: str, key: bytes, classes: int) -> DataBundle:
    name = "cifar10" if classes == 10 else "cifar100"
    fix = f"download the python version of {name.upper()} yourself and pass --data-root DIR (the {folder} folder)"
    if root is None:
        raise XnorflowError(f"{name} needs --data-root", fix)
    base = root if (root / test).exists() else root / folder
    tr = _cifar_tensors([_unpickle(base / f, name, fix) for f in train], key)
    te = _cifar_tensors([_unpickle(base / test, name, fix)], key)
    return DataBundle(name, AugmentedTensors(*tr, augment=True), AugmentedTensors(*te, augment=False), 3, classes, 32,
                      normalised_range(IMAGENET_MEAN, IMAGENET_STD))


def _cifar10(root: Path | None, _size: int | None) -> DataBundle:
    batches = [f"data_batch_{i}" for i in range(1, 6)]
    return _cifar(root, "cifar-10-batches-py", batches, "test_batch", b"labels", 10)


def _cifar100(root: Path | None, _size: int | None) -> DataBundle:
    return _cifar(root, "cifar-100-python", ["train"], "test", b"fine_labels", 100)


class ImageFolder(Dataset):
    """ImageNet-style folder (one subfolder per class), normalized; eval: shorter side to 256/224 of the crop size,
    centre crop. Training: `rescaled`, a random crop of that plus a flip (Bi-Real Net Sec. 4.1: no random resize),
    or `resized`, a random-resized crop plus a flip (ReActNet Sec. 4.1: MobileNetV1's classic augmentation)."""

    EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}

    def __init__(self, root: Path, classes: list[str], size: int, augment: str | None) -> None:
        self.items = [(p, c) for c, name in enumerate(classes) for p in sorted((root / name).rglob("*"))
                      if p.suffix.lower() in self.EXTENSIONS]
        self.size, self.augment = size, augment

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        path, label = self.items[i]
        image = Image.open(path).convert("RGB")
        if self.augment == "resized":
            x = _pixels(random_resized_crop(image, self.size))
        else:
            x = self._crop(_pixels(self._rescale(image)))
        if self.augment and torch.rand(()) < 0.5:
            x = x.flip(-1)
        return (x - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1), \
            torch.tensor(label)

    def _rescale(self, image: Image.Image) -> Image.Image:
        """The image with its shorter side at 256/224 of the crop size."""
        scale = self.size * 256 / 224 / min(image.size)
        return image.resize((max(self.size, round(image.width * scale)), max(self.size, round(image.height * scale))))

    def _crop(self, x: Tensor) -> Tensor:
        """A random (training) or the centre (eval) size x size crop."""
        h, w = x.shape[1:]
        if self.augment:
            top, left = torch.randint(0, h - self.size + 1, ()).item(), torch.randint(0, w - self.size + 1, ()).item()
        else:
            top, left = (h - self.size) // 2, (w - self.size) // 2
        return x[:, top:top + self.size, left:left + self.size]


def _pixels(image: Image.Image) -> Tensor:
    """An RGB image as a 3xHxW float tensor in [0, 1]."""
    return torch.tensor(np.asarray(image), dtype=torch.float32).permute(2, 0, 1) / 255.0


def random_resized_crop(image: Image.Image, size: int, scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> Image.Image:
    """A crop of random area (scale) and aspect (log-uniform ratio) resized to size x size: the Inception crop as
    torchvision's RandomResizedCrop draws it, 10 tries then the centre crop clamped to `ratio`."""
    width, height = image.size
    for _ in range(10):
        area = width * height * torch.empty(()).uniform_(*scale).item()
        aspect = math.exp(torch.empty(()).uniform_(math.log(ratio[0]), math.log(ratio[1])).item())
        w, h = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if 0 < w <= width and 0 < h <= height:
            top, left = torch.randint(0, height - h + 1, ()).item(), torch.randint(0, width - w + 1, ()).item()
            return image.resize((size, size), box=(left, top, left + w, top + h))
    w, h = width, height
    if width / height < ratio[0]:
        h = round(width / ratio[0])
    elif width / height > ratio[1]:
        w = round(height * ratio[1])
    top, left = (height - h) // 2, (width - w) // 2
    return image.resize((size, size), box=(left, top, left + w, top + h))


def _imagefolder(root: Path | None, size: int | None, random_resize: bool) -> DataBundle:
    fix = "pass --data-root DIR with train/ and val/ folders, one subfolder of images per class"
    if root is None:
        raise XnorflowError("imagefolder needs --data-root", fix)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise _missing(f"imagefolder '{split}' split", root / split, fix)
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    if not classes:
        raise XnorflowError(f"no class folders in {root / 'train'}", fix)
    size = size or 224
    train = ImageFolder(root / "train", classes, size, "resized" if random_resize else "rescaled")
    return DataBundle("imagefolder", train, ImageFolder(root / "val", classes, size, None), 3, len(classes), size,
                      normalised_range(IMAGENET_MEAN, IMAGENET_STD), streamed=True)
