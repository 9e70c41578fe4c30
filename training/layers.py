"""Binary-net building blocks on Brevitas layers: bipolar-padded binary conv, RSign, RPReLU, shortcut grid.

`QuantSpec` decides what each block quantizes, so one model definition serves the float teacher
(clip activations, Bi-Real Net's pre-training init), the binary-activation/real-weight step
(ReActNet step 1) and the fully binary net.
"""
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import Tensor, nn

from xnorflow.errors import XnorflowError
from xnorflow.training.quantizers import (
    FixedPointActQuant,
    Int8WeightQuant,
    MagnitudeAwareSignWeightQuant,
    SignActQuant,
    SignWeightQuant,
)
from xnorflow.training.recipes import ESTIMATORS

PRECISIONS = ("float", "soft", "binact", "binary")


class ShortcutQuant(QuantIdentity):
    """Brevitas' QuantIdentity onto the shortcut grid, a type of its own so range calibration finds every one."""


@dataclass(frozen=True)
class QuantSpec:
    """What is quantized: precision float (clip acts) | soft (tanh acts) | binact (binary acts, real weights) | binary."""

    precision: str = "binary"
    estimator: str = "ste"
    shortcut_bits: int = 8
    shortcut_frac_bits: int = 4
    input_bits: int = 8
    input_frac_bits: int = 6
    weight_bits: int = 8

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise XnorflowError(f"unknown precision '{self.precision}'", f"use one of {', '.join(PRECISIONS)}")
        if self.estimator not in ESTIMATORS:
            raise XnorflowError(f"unknown sign estimator '{self.estimator}'", f"use one of {', '.join(ESTIMATORS)}")

    def for_step(self, precision: str, estimator: str | None = None) -> "QuantSpec":
        """The same formats at a recipe step's precision and sign estimator."""
        return replace(self, precision=precision, estimator=estimator or self.estimator)

    @property
    def quantized(self) -> bool:
        """Whether fixed-point input/shortcut/8-bit weights are on (everything but the real-valued models)."""
        return self.precision not in ("float", "soft")

    def shortcut(self) -> nn.Module:
        """Requantize onto the model's one shortcut grid: signed fixed point, scale 2^-frac."""
        if not self.quantized:
            return nn.Identity()
        return ShortcutQuant(FixedPointActQuant, bit_width=self.shortcut_bits, frac_bits=self.shortcut_frac_bits)

    def input(self) -> nn.Module:
        """8-bit fixed-point input quantizer."""
        if not self.quantized:
            return nn.Identity()
        return QuantIdentity(FixedPointActQuant, bit_width=self.input_bits, frac_bits=self.input_frac_bits)

    def sign(self) -> nn.Module:
        """Binary activation {-1,+1}; Hardtanh for the float model, Tanh for R2B's soft binarization (step 1)."""
        if not self.quantized:
            return nn.Tanh() if self.precision == "soft" else nn.Hardtanh()
        return QuantIdentity(SignActQuant, estimator=self.estimator)

    def binary_weight_quant(self) -> type | None:
        """Weight quantizer of binary convs: magnitude-aware sign when fully binary."""
        return MagnitudeAwareSignWeightQuant if self.precision == "binary" else None

    def sign_weight_quant(self) -> dict:
        """Keyword args for binary convs whose weights take the activations' sign estimator (HyperBNN, STE-Warmup)."""
        if self.precision != "binary":
            return {"weight_quant": None}
        return {"weight_quant": SignWeightQuant, "weight_estimator": self.estimator}

    def int_weight_quant(self) -> dict:
        """Keyword args for 8-bit-weight layers (first conv, last FC, real shortcut convs)."""
        if not self.quantized:
            return {"weight_quant": None}
        return {"weight_quant": Int8WeightQuant, "weight_bit_width": self.weight_bits}


class BipolarConv2d(nn.Module):
    """pad with -1 -> binary-weight conv: the conv stays on {-1,+1} at the border (DESIGN 'Known trap')."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, weight_quant: type | None,
                 **quant_kwargs: object) -> None:
        super().__init__()
        self.pad = kernel // 2
        self.conv = QuantConv2d(cin, cout, kernel, stride=stride, padding=0, bias=False, weight_quant=weight_quant,
                                **quant_kwargs)

    def forward(self, x_signed: Tensor) -> Tensor:
        if self.pad:
            x_signed = F.pad(x_signed, (self.pad,) * 4, value=-1.0)
        return self.conv(x_signed)


class BinaryConv2d(nn.Module):
    """sign -> bipolar-padded binary conv -> BN (the binary branch of Bi-Real and ReActNet blocks)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, spec: QuantSpec) -> None:
        super().__init__()
        self.sign = spec.sign()
        self.conv = BipolarConv2d(cin, cout, kernel, stride, spec.binary_weight_quant())
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(self.sign(x)))


class LearnableBias(nn.Module):
    """Per-channel learnable shift x + b: RSign's threshold (sign(x - alpha), ReActNet Eq. 1) and RPReLU's shifts (Eq. 2)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bias


class RPReLU(nn.Module):
    """PReLU with learnable per-channel shifts: PReLU_beta(x - gamma) + zeta, requantized (ReActNet Eq. 2)."""

    def __init__(self, channels: int, spec: QuantSpec) -> None:
        super().__init__()
        self.shift_in = LearnableBias(channels)
        self.prelu = nn.PReLU(channels, init=0.25)
        self.shift_out = LearnableBias(channels)
        self.quant = spec.shortcut()

    def forward(self, x: Tensor) -> Tensor:
        return self.quant(self.shift_out(self.prelu(self.shift_in(x))))


def int_conv(cin: int, cout: int, kernel: int, stride: int, spec: QuantSpec) -> QuantConv2d:
    """Multi-bit (8-bit weight) conv with zero padding: first conv and real shortcut convs."""
    return QuantConv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False, **spec.int_weight_quant())


class Stem(nn.Module):
    """input quant -> 8-bit-weight conv -> BN -> shortcut grid [-> max-pool] (the real first layer)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, spec: QuantSpec, maxpool: bool) -> None:
        super().__init__()
        self.input_quant = spec.input()
        self.conv = int_conv(cin, cout, kernel, stride, spec)
        self.bn = nn.BatchNorm2d(cout)
        self.quant = spec.shortcut()
        self.pool = nn.MaxPool2d(3, 2, padding=1) if maxpool else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.quant(self.bn(self.conv(self.input_quant(x)))))


class Head(nn.Module):
    """global average pool -> shortcut grid [-> ReLU, HyperBNN's enhanced head] -> 8-bit-weight FC -> logits."""

    def __init__(self, channels: int, num_classes: int, spec: QuantSpec, relu: bool = False) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.quant = spec.shortcut()
        self.relu = nn.ReLU() if relu else nn.Identity()
        self.fc = QuantLinear(channels, num_classes, bias=False, **spec.int_weight_quant())

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.relu(self.quant(self.pool(x))), 1))


class AvgPoolShortcut(nn.Module):
    """2x2 average pool of the shortcut, requantized onto the grid (downsampling blocks)."""

    def __init__(self, spec: QuantSpec) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2)
        self.quant = spec.shortcut()

    def forward(self, x: Tensor) -> Tensor:
        return self.quant(self.pool(x))
