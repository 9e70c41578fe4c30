"""The model catalog: every registry name with its input, classes, summary and counts (no torch, so listing is instant).

The counts (params, BOPs, FLOPs at the model's own input size) are what training/models/complexity.py counts on
the built model; tests/training/test_models.py checks that they agree.
"""
from dataclasses import dataclass
from functools import partial

from xnorflow.errors import XnorflowError


@dataclass(frozen=True)
class Complexity:
    """Counts for one forward pass of a single image: params, BOPs (binary MACs), FLOPs (real MACs)."""

    params: int
    bops: int
    flops: int

    @property
    def ops(self) -> float:
        """OPs = BOPs / 64 + FLOPs, the ReActNet/Bi-Real convention."""
        return self.bops / 64 + self.flops


@dataclass(frozen=True)
class ModelEntry:
    """A catalog row: the input a model was designed for, its classes, a summary and its counts at that input."""

    name: str
    input_size: int
    in_channels: int
    num_classes: int
    summary: str
    counts: Complexity


IMAGENET = partial(ModelEntry, input_size=224, in_channels=3, num_classes=1000)
CIFAR = partial(ModelEntry, input_size=32, in_channels=3, num_classes=10)
TINY = partial(ModelEntry, input_size=8, in_channels=1, num_classes=10)
C = Complexity

REGISTRY: dict[str, ModelEntry] = {
    e.name: e
    for e in [
        IMAGENET(name="bireal18", summary="Bi-Real Net 18, ImageNet", counts=C(11688512, 1676279808, 137793536)),
        IMAGENET(name="bireal34", summary="Bi-Real Net 34, ImageNet", counts=C(21796672, 3525967872, 137793536)),
        IMAGENET(name="reactnet-a", summary="ReActNet-A (MobileNetV1), ImageNet",
                 counts=C(29342592, 4816896000, 11862016)),
        CIFAR(name="bireal18-cifar", summary="Bi-Real 18, 32x32 stem", counts=C(11173952, 547356672, 8066048)),
        CIFAR(name="bireal34-cifar", summary="Bi-Real 34, 32x32 stem", counts=C(21282112, 1151336448, 8066048)),
        CIFAR(name="reactnet-a-cifar", summary="ReActNet-A, 32x32 stem", counts=C(28328832, 393216000, 894976)),
        IMAGENET(name="real2bin18", summary="Real-to-Binary ResNet-18 (gated), ImageNet",
                 counts=C(11989696, 1676279808, 138087936)),
        CIFAR(name="real2bin18-cifar", summary="Real-to-Binary 18, 32x32", counts=C(11475136, 547356672, 8360448)),
        IMAGENET(name="hyperbnn18", summary="Hyper-BinaryNet ResNet-18, ImageNet",
                 counts=C(10445456, 1663522560, 139624372)),
        CIFAR(name="hyperbnn18-cifar", summary="Hyper-BinaryNet 18, 32x32", counts=C(9930896, 543191040, 8663872)),
        TINY(name="tiny-bireal", summary="Bi-Real blocks + downsample shortcut (digits, fashion-mnist)",
             counts=C(19696, 516096, 17728)),
        TINY(name="tiny-reactnet", summary="RSign, RPReLU, concat, avg-pool shortcut (digits, fashion-mnist)",
             counts=C(14960, 253952, 4928)),
        TINY(name="tiny-real2bin", summary="R2B blocks: BN-sign-conv-scale-PReLU-gate, real downsample",
             counts=C(20336, 516096, 18208)),
        TINY(name="tiny-hyperbnn", summary="HyperConv, DPConv, enhanced shortcut and head",
             counts=C(17412, 490752, 22752)),
    ]
}


# The family names users type (`make bitfile MODEL=reactnet`): each family's default registry model
FAMILY_DEFAULTS = {"reactnet": "reactnet-a", "bireal": "bireal18", "real2bin": "real2bin18", "hyperbnn": "hyperbnn18"}


def registry_name(name: str) -> str:
    """A registry name as it is, or a family name (reactnet, bireal, real2bin, hyperbnn) as its default model."""
    return FAMILY_DEFAULTS.get(name, name)


def entry(name: str) -> ModelEntry:
    """The catalog row for `name`, or one clear error listing the known names."""
    if name not in REGISTRY:
        raise XnorflowError(f"unknown model '{name}'", f"use one of: {', '.join(REGISTRY)} (see `xnorflow models`), "
                            f"or a family name: {', '.join(FAMILY_DEFAULTS)}")
    return REGISTRY[name]


def complexity(name: str, input_size: int | None = None) -> Complexity:
    """Counts of model `name`: from the catalog at its own input size, counted on the built model at another."""
    row = entry(name)
    if input_size in (None, row.input_size):
        return row.counts
    from xnorflow.training.models.registry import measure  # builds the model (torch, Brevitas)

    return measure(name, input_size)
