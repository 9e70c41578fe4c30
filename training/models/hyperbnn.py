"""Hyper-BinaryNet: HyperConv binary convs, DPConv real branch, enhanced shortcuts (Wang et al., TPAMI, Sec. 3-4).

DPConv's channel mean is a frozen all-ones 1x1 conv (an integer channel sum) divided by C and requantised onto
the shortcut grid, so the hardware needs no layer beyond a multi-bit MVU and a threshold. Its kernel is the mean
of the binary conv's real kernels (Eq. 8), quantized to 8 bits: a generated weight like HyperConv's, baked in
by `materialize` before export.
"""
import torch
from brevitas.nn import QuantConv2d
from torch import Tensor, nn
from torch.nn.utils import parametrize

from xnorflow.training.hyperconv import HyperConv2d
from xnorflow.training.layers import BipolarConv2d, QuantSpec, int_conv
from xnorflow.training.models.bireal import RealDownsample
from xnorflow.training.quantizers import UnitWeightQuant


class ChannelMean(nn.Module):
    """Mean over channels as a fixed all-ones 1x1 conv (an integer sum in hardware) divided by C, on the grid."""

    def __init__(self, channels: int, spec: QuantSpec) -> None:
        super().__init__()
        quant = {"weight_quant": UnitWeightQuant if spec.quantized else None}
        self.sum = QuantConv2d(channels, 1, 1, bias=False, **quant)
        self.sum.weight.data.fill_(1.0)
        self.sum.weight.requires_grad_(False)
        self.channels = channels
        self.quant = spec.shortcut()

    def forward(self, x: Tensor) -> Tensor:
        return self.quant(self.sum(x) / self.channels)


class KernelMean(nn.Module):
    """W~ = 1/U sum_i W_i, the mean of a binary conv's U = C_out x C_in real kernels (Hyper-BinaryNet Eq. 8)."""

    def __init__(self, kernels: QuantConv2d) -> None:
        super().__init__()
        self.source = (kernels,)  # a reference, not a submodule: the kernels are the binary conv's parameters

    def forward(self, _unused: Tensor) -> Tensor:
        return self.source[0].weight.mean(dim=(0, 1), keepdim=True)


class DPConvBranch(nn.Module):
    """The real path of DPConv: channel mean A~ -> k x k conv with W~ (1 -> 1 channel, 8-bit) (HyperBNN Eq. 8-9, Fig. 5).

    W~ is the mean of the binary conv's own real kernels, so this full-precision path sends the gradient back to
    them (`kernels`); kernel_mean=False gives the branch a kernel of its own instead (checkpoints written before
    Eq. 8 was followed), which leaves the binary kernels with the sign's surrogate gradient alone."""

    def __init__(self, cin: int, kernel: int, stride: int, spec: QuantSpec, kernels: QuantConv2d,
                 kernel_mean: bool = True) -> None:
        super().__init__()
        self.mean = ChannelMean(cin, spec)
        self.conv = int_conv(1, 1, kernel, stride, spec)
        if kernel_mean:
            parametrize.register_parametrization(self.conv, "weight", KernelMean(kernels), unsafe=True)
            # the proxy weight is generated, never read: keep no dead copy of it
            self.conv.parametrizations.weight.original = nn.Parameter(torch.empty(0), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.mean(x))


class HyperBlock(nn.Module):
    """sign -> [HyperConv | binary conv] (C_out - 1) ++ DPConv real branch (1) -> BN -> grid, + shortcut (HyperBNN Fig. 1, 5).

    hyper=False (Table 4's ablation without H) keeps the weights' STE-Warmup sign: only the hypernetwork goes."""

    def __init__(self, cin: int, cout: int, stride: int, spec: QuantSpec, hyper: bool = True, dpconv: bool = True,
                 enhanced: bool = True, dpconv_mean: bool = True) -> None:
        super().__init__()
        binary_out = cout - 1 if dpconv else cout
        self.sign = spec.sign()
        self.conv = (HyperConv2d(cin, binary_out, 3, stride, spec) if hyper  # hyper=false: the same weight sign
                     else BipolarConv2d(cin, binary_out, 3, stride, **spec.sign_weight_quant()))
        self.dpconv = DPConvBranch(cin, 3, stride, spec, self.conv.conv, dpconv_mean) if dpconv else None
        self.bn = nn.BatchNorm2d(cout)
        self.quant_branch = spec.shortcut()
        needed = stride != 1 or cin != cout
        self.shortcut = RealDownsample(cin, cout, spec, relu=enhanced) if needed else nn.Identity()
        self.quant_out = spec.shortcut()

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(self.sign(x))
        if self.dpconv is not None:
            y = torch.cat([y, self.dpconv(x)], dim=1)
        return self.quant_out(self.quant_branch(self.bn(y)) + self.shortcut(x))
