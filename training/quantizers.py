"""Brevitas quantizers (injectors) for binary nets with fixed-point real-valued shortcuts.

Written in Brevitas' own extension style (an injector naming a `tensor_quant` module) so that QONNX
export sees them: 1-bit quantizers export as BipolarQuant, the others as Quant. Brevitas lacks a
sign with the papers' backward passes and the magnitude-aware weight gradient, so `SignQuant` and
`MagnitudeAwareSignQuant` are ours; scale computation and export are Brevitas'.

Brevitas also lacks a fast training path: its IntQuant runs round, clamp and rescale as nine separate
autograd ops (two `torch.where`s for the clamp), which on full activation maps made a binary training
step up to 2x a float one. `FusedIntQuant` is Brevitas' IntQuant whose training forward is one autograd
Function computing the same values and gradients (tests/training/test_quantizers.py checks them bit for
bit); eval and export still run Brevitas' own IntQuant, so the QONNX graph is unchanged.

Every quantizer computes in float32 even under `--amp`'s bfloat16 autocast (`fp32`): the grids and the
snapping rely on float32 exactness.
"""
import functools
from collections.abc import Callable

import torch
from brevitas.core.bit_width import BitWidthConst
from brevitas.core.function_wrapper.ops_ste import CeilSte
from brevitas.core.quant import IntQuant as BrevitasIntQuant
from brevitas.core.quant import RescalingIntQuant
from brevitas.core.scaling import ScalingImplType
from brevitas.core.utils import StatelessBuffer
from brevitas.inject.enum import RestrictValueType
from brevitas.quant.base import SignedBinaryClampedConst
from brevitas.quant.scaled_int import Int8WeightPerTensorFloat
from brevitas.quant.solver import ActQuantSolver, WeightQuantSolver
from brevitas.quant.base import IntQuant
from brevitas.inject.enum import ScalingPerOutputType
from brevitas.core.stats import StatsOp
from dependencies import value
from torch import Tensor, nn
from torch.autograd import Function

from xnorflow.training.ste import ApproxSign, ClippedSignSTE, WarmupHardtanh, bipolar_sign


def fp32(forward: Callable) -> Callable:
    """A quantizer's forward run on a float32 input with autocast off, whatever autocast the caller has on."""

    @functools.wraps(forward)
    def run(self: nn.Module, x: Tensor, *rest: object) -> object:
        if not torch.is_autocast_enabled(x.device.type):
            return forward(self, x, *rest)
        with torch.autocast(x.device.type, enabled=False):
            return forward(self, x.float(), *rest)

    return run


class Fp32RescalingIntQuant(RescalingIntQuant):
    """Brevitas' integer quantizer (scale, round, clamp), always in float32."""

    forward = fp32(RescalingIntQuant.forward)


class SignQuant(nn.Module):
    """Sign activation with a selectable backward: 'ste', 'approx' (Bi-Real Eq. 3), 'warmup' (HyperBNN Eq. 4)."""

    def __init__(self, scaling_impl: nn.Module, estimator: str = "ste") -> None:
        super().__init__()
        self.scaling_impl = scaling_impl
        self.estimator = estimator
        self.bit_width = BitWidthConst(1)
        self.zero_point = StatelessBuffer(torch.tensor(0.0))
        self.register_buffer("warmup_lambda", torch.tensor(1.0))

    @fp32
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        scale = self.scaling_impl(x)
        return self.binarize(x, scale), scale, self.zero_point(), self.bit_width()

    def binarize(self, x: Tensor, scale: Tensor) -> Tensor:
        """scale times the forward of the chosen estimator, one Function; eval mode is always the hard sign."""
        if not self.training:
            return bipolar_sign(x, scale)
        if self.estimator == "approx":
            return ApproxSign.apply(x, scale)
        if self.estimator == "warmup":
            return WarmupHardtanh.apply(x, scale, float(self.warmup_lambda))
        return ClippedSignSTE.apply(x, scale)


SCALE_MANTISSA_BITS = 9  # <= 10 significant bits after rounding: j * scale is exact in float32 for |j| < 2^14 taps


def dyadic(x: Tensor, bits: int) -> Tensor:
    """x rounded to `bits` significant bits (m * 2^e, |m| < 2^bits): its integer multiples stay exact in float32."""
    mantissa, exponent = torch.frexp(x)
    return torch.ldexp(torch.round(torch.ldexp(mantissa, torch.full_like(exponent, bits))), exponent - bits)


class MagnitudeAwareSignQuant(nn.Module):
    """W_b = mean|W| per output channel * sign(W), gradient scale * 1_{|W|<=1} (Bi-Real Net Eq. 6-7)."""

    def __init__(self, scaling_impl: nn.Module) -> None:
        super().__init__()
        self.scaling_impl = scaling_impl
        self.bit_width = BitWidthConst(1)
        self.zero_point = StatelessBuffer(torch.tensor(0.0))

    @fp32
    def forward(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        scale = dyadic(self.scaling_impl(w).detach(), SCALE_MANTISSA_BITS)
        return ClippedSignSTE.apply(w, scale), scale, self.zero_point(), self.bit_width()


class SignActQuant(SignedBinaryClampedConst, ActQuantSolver):
    """1-bit activation {-1,+1} with unit scale; `estimator` picks the backward pass."""

    tensor_quant = SignQuant
    scaling_const = 1.0
    min_val = -1.0
    max_val = 1.0
    estimator = "ste"


class MagnitudeAwareSignWeightQuant(WeightQuantSolver):
    """1-bit weights with per-output-channel scale mean|W| (Bi-Real Net Eq. 6); exports as BipolarQuant."""

    tensor_quant = MagnitudeAwareSignQuant
    scaling_impl_type = ScalingImplType.STATS
    scaling_stats_op = StatsOp.AVE
    scaling_per_output_type = ScalingPerOutputType.CHANNEL
    restrict_scaling_type = RestrictValueType.FP
    bit_width = 1
    signed = True
    narrow_range = True
    quant_type = "binary"


class FixedPointRound(Function):
    """(clamp(round(x/s + z), lo, hi) - z) * s; gradient 1 inside [lo, hi], 0 outside (Brevitas IntQuant, round STE)."""

    @staticmethod
    def forward(ctx, x: Tensor, scale: Tensor, zero_point: Tensor, min_int: float, max_int: float) -> Tensor:
        codes = torch.div(x, scale).add_(zero_point).round_()
        ctx.save_for_backward(codes, scale)
        ctx.bounds = (min_int - 0.5, max_int + 0.5)  # integer codes: lo <= c <= hi iff lo - 1/2 < c < hi + 1/2
        return codes.clamp(min_int, max_int).sub_(zero_point).mul_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        """Brevitas' chain rule in its order: times s, zero where the clamp bit, divided by s."""
        codes, scale = ctx.saved_tensors
        inside = torch.ops.aten.hardtanh_backward(grad * scale, codes, *ctx.bounds)
        return inside.div_(scale), None, None, None, None


class FusedIntQuant(BrevitasIntQuant):
    """Brevitas' IntQuant (round half to even, clamp) whose training forward is the one-Function `FixedPointRound`."""

    def forward(self, scale: Tensor, zero_point: Tensor, bit_width: Tensor, x: Tensor) -> Tensor:
        if not self.training or scale.requires_grad or zero_point.requires_grad:
            return super().forward(scale, zero_point, bit_width, x)
        bounds = float(self.min_int(bit_width)), float(self.max_int(bit_width))
        return FixedPointRound.apply(x, scale, zero_point, *bounds)


class FixedPointActQuant(IntQuant, ActQuantSolver):
    """Signed fixed point with a constant scale 2^-frac_bits: one grid for every shortcut and the input."""

    int_quant = FusedIntQuant
    tensor_quant = Fp32RescalingIntQuant
    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.FP
    scaling_per_output_type = ScalingPerOutputType.TENSOR
    bit_width = 8
    frac_bits = 4
    signed = True
    narrow_range = False

    @value
    def scaling_const(bit_width: int, frac_bits: int) -> float:
        """Brevitas divides this threshold by 2^(b-1), leaving the scale 2^-frac_bits."""
        return 2.0 ** (bit_width - 1 - frac_bits)

    @value
    def max_val(scaling_const: float) -> float:
        """The range top Brevitas' act solver asks for; equal to the constant threshold."""
        return scaling_const

    @value
    def min_val(scaling_const: float) -> float:
        """The range bottom Brevitas' act solver asks for."""
        return -scaling_const


class Int8WeightQuant(Int8WeightPerTensorFloat):
    """8-bit narrow-range weights, per-output-channel power-of-two scale (first conv, last FC, shortcut 1x1).

    A power-of-two scale keeps every conv/FC partial sum an exact float32 (code products times 2^e), so
    the eval model, the QONNX graph and FINN's integer accumulator agree whatever the summation order."""

    tensor_quant = Fp32RescalingIntQuant
    scaling_per_output_type = ScalingPerOutputType.CHANNEL
    restrict_scaling_type = RestrictValueType.POWER_OF_TWO
    restrict_value_float_to_int_impl = CeilSte


class UnsignedFixedPointActQuant(FixedPointActQuant):
    """Unsigned fixed point with constant scale 2^-frac_bits (e.g. a sigmoid gate in [0, 1))."""

    signed = False

    @value
    def scaling_const(bit_width: int, frac_bits: int) -> float:
        """Brevitas divides this threshold by 2^b - 1 for unsigned ints, leaving 2^-frac_bits."""
        return (2.0 ** bit_width - 1) * 2.0 ** -frac_bits


class SignWeightQuant(SignedBinaryClampedConst, WeightQuantSolver):
    """1-bit weights through the same sign estimator as the activations (HyperConv with STE-Warmup)."""

    tensor_quant = SignQuant
    scaling_const = 1.0
    estimator = "ste"


class UnitWeightQuant(Int8WeightPerTensorFloat):
    """2-bit weights {-1, 0, 1} with scale exactly 1: fixed integer weights such as an all-ones channel sum."""

    tensor_quant = Fp32RescalingIntQuant
    scaling_impl_type = ScalingImplType.CONST
    scaling_const = 1.0
    bit_width = 2
