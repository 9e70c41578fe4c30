"""Sign estimators for binary activations and weights: forward scale * sign, backward per paper.

Brevitas' `binary_sign_ste` has only the identity backward; the papers need three others, so they
are autograd Functions here and are plugged into Brevitas through `training.quantizers.SignQuant`.
Each takes the quantizer's constant scale, so sign and scale are one Function of a few fused or in-place
kernels, equal bit for bit to the estimator at scale 1 followed by an autograd multiply (Brevitas' order).
"""
from functools import cache

import torch
from torch import Tensor
from torch.autograd import Function


def bipolar_sign(x: Tensor, scale: Tensor | float = 1.0) -> Tensor:
    """scale * sign(x) with sign(0) = +1 (Brevitas' BipolarQuant and FINN); 2s[x>=0] - s is exact for any s."""
    return torch.ge(x, 0, out=torch.empty_like(x)).mul(2 * scale).sub_(scale)  # out of place: shape of x * scale


@cache
def _unit_bounds(dtype: torch.dtype) -> tuple[float, float]:
    """The neighbours of -1 and 1 outside [-1, 1] in `dtype`: open bounds that keep |x| = 1 inside."""
    one = torch.tensor(1.0, dtype=dtype)
    return float(torch.nextafter(-one, -2 * one)), float(torch.nextafter(one, 2 * one))


def clipped_identity(grad: Tensor, x: Tensor, scale: Tensor) -> Tensor:
    """dL/dy * s * 1_{|x|<=1}, the clipped straight-through gradient (BinaryNet STE); masking commutes with s >= 0."""
    return torch.ops.aten.hardtanh_backward(grad, x, *_unit_bounds(x.dtype)).mul_(scale)


class _Sign(Function):
    """s * sign(x) forward that keeps x and the (constant) scale s for a surrogate backward defined by the subclass."""

    @staticmethod
    def forward(ctx, x: Tensor, scale: Tensor) -> Tensor:
        ctx.save_for_backward(x, scale)
        return bipolar_sign(x, scale)


class ClippedSignSTE(_Sign):
    """Sign forward, clipped identity backward: dL/dx = dL/dy * s * 1_{|x|<=1} (BinaryNet STE)."""

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        x, scale = ctx.saved_tensors
        return clipped_identity(grad, x, scale), None


class ApproxSign(_Sign):
    """Sign forward, piecewise-polynomial backward (2 - 2|x|) * s on [-1,1] (ApproxSign, Bi-Real Net Eq. 3)."""

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        x, scale = ctx.saved_tensors
        return torch.abs(x).mul_(-2.0).add_(2.0).relu_().mul_(grad * scale), None


class WarmupHardtanh(Function):
    """Forward s * Hardtanh(x/lambda), backward as if lambda = 1 (STE-Warmup, Hyper-BinaryNet Eq. 4 and 7).

    x = 0 maps to +s, the eval sign's value: sign inputs lie on the shortcut grid, where exact zeros are common
    (1.4-2.9% of them in tiny-hyperbnn), and Hardtanh(0) = 0 would train them on a value eval never gives."""

    @staticmethod
    def forward(ctx, x: Tensor, scale: Tensor, lam: float) -> Tensor:
        ctx.save_for_backward(x, scale)
        return torch.div(x, lam).clamp_(-1.0, 1.0).add_(x == 0).mul_(scale)  # x = +-0: +-0 + 1 = 1

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        x, scale = ctx.saved_tensors
        return clipped_identity(grad, x, scale), None, None


def warmup_lambda(t: int, sigma: float, milestone: int, step: int) -> float:
    """lambda_t = sigma^(max(0, t - M) // S) at iteration t, the STE-Warmup schedule (Hyper-BinaryNet Eq. 6)."""
    return float(sigma ** (max(0, t - milestone) // step))
