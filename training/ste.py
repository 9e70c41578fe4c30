"""Sign estimators for binary activations: forward sign, backward per paper.

Brevitas' `binary_sign_ste` has only the identity backward; the papers need three others, so they
are autograd Functions here and are plugged into Brevitas through `training.quantizers.SignQuant`.
"""
import torch
from torch import Tensor
from torch.autograd import Function


def bipolar_sign(x: Tensor) -> Tensor:
    """sign with sign(0) = +1, the {-1,+1} convention of Brevitas' BipolarQuant and FINN."""
    return (x >= 0).to(x.dtype).mul_(2).sub_(1)


class _Sign(Function):
    """Sign forward that keeps its input for a surrogate backward defined by the subclass."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return bipolar_sign(x)


class ClippedSignSTE(_Sign):
    """Sign forward, clipped identity backward: dL/dx = dL/dy * 1_{|x|<=1} (BinaryNet STE)."""

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class ApproxSign(_Sign):
    """Sign forward, piecewise-polynomial backward 2 - 2|x| on [-1,1] (ApproxSign, Bi-Real Net Eq. 3)."""

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.clamp(2.0 - 2.0 * x.abs(), min=0.0)


class WarmupHardtanh(Function):
    """Forward Hardtanh(x/lambda), backward as if lambda = 1 (STE-Warmup, Hyper-BinaryNet Eq. 4 and 7).

    x = 0 maps to +1, the eval sign's value: sign inputs lie on the shortcut grid, where exact zeros are common
    (1.4-2.9% of them in tiny-hyperbnn), and Hardtanh(0) = 0 would train them on a value eval never gives."""

    @staticmethod
    def forward(ctx, x: Tensor, lam: float) -> Tensor:
        ctx.save_for_backward(x)
        return torch.where(x == 0, torch.ones_like(x), torch.clamp(x / lam, -1.0, 1.0))

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype), None


def warmup_lambda(t: int, sigma: float, milestone: int, step: int) -> float:
    """lambda_t = sigma^(max(0, t - M) // S) at iteration t, the STE-Warmup schedule (Hyper-BinaryNet Eq. 6)."""
    return float(sigma ** (max(0, t - milestone) // step))

