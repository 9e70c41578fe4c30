"""Probe Brevitas models built with xnorflow's model conventions (stock Brevitas quantizers only)."""
import torch
import torch.nn.functional as F
from brevitas.core.quant import BinaryQuant
from brevitas.core.scaling import ScalingImplType
from brevitas.core.stats import StatsOp
from brevitas.inject.enum import RestrictValueType, ScalingPerOutputType
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from brevitas.quant.base import IntQuant
from brevitas.quant.binary import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
from brevitas.quant.scaled_int import Int8ActPerTensorFloat, Int8WeightPerChannelFloat, Int8WeightPerTensorFloat
from brevitas.quant.solver import ActQuantSolver
from torch import nn


class FixedPoint(IntQuant, ActQuantSolver):
    """Signed 8-bit fixed point, constant scale 2^-4: the one shortcut grid."""

    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.FP
    scaling_per_output_type = ScalingPerOutputType.TENSOR
    bit_width = 8
    signed = True
    narrow_range = False
    scaling_const = 2.0 ** (8 - 1 - 4)
    max_val = 2.0 ** (8 - 1 - 4)
    min_val = -(2.0 ** (8 - 1 - 4))


class BinaryWeightMeanAbs(SignedBinaryWeightPerTensorConst):
    """1-bit weights with per-output-channel scale mean|W| (plain sign: no in-place clamp of the weights)."""

    tensor_quant = BinaryQuant

    scaling_impl_type = ScalingImplType.STATS
    scaling_stats_op = StatsOp.AVE
    scaling_per_output_type = ScalingPerOutputType.CHANNEL
    restrict_scaling_type = RestrictValueType.FP


def shortcut_quant() -> QuantIdentity:
    """Quantizer onto the global fixed-point shortcut grid."""
    return QuantIdentity(act_quant=FixedPoint, return_quant_tensor=False)


def sign() -> QuantIdentity:
    """1-bit bipolar activation (exports as BipolarQuant)."""
    return QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=False)


def randomize_bn(model: nn.Module, gen: torch.Generator) -> None:
    """Give every BatchNorm random affine params and running stats so thresholds are non-trivial."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = torch.randn(c, generator=gen).abs() + 0.2
            m.weight.data *= torch.where(torch.rand(c, generator=gen) < 0.2, -1.0, 1.0)
            m.bias.data = torch.randn(c, generator=gen)
            m.running_mean.data = torch.randn(c, generator=gen) * 3
            m.running_var.data = torch.rand(c, generator=gen) * 20 + 1
        if isinstance(m, RPReLU):
            c = m.gamma.numel()
            m.gamma.data = torch.randn(m.gamma.shape, generator=gen) * 0.3
            m.zeta.data = torch.randn(m.zeta.shape, generator=gen) * 0.3
            m.prelu.weight.data = torch.randn(c, generator=gen) * 0.8


class Stem(nn.Module):
    """Input quant -> 8-bit conv -> BN -> shortcut quant."""

    def __init__(self, cin: int, cout: int, padding: int = 1) -> None:
        super().__init__()
        self.inp = shortcut_quant()
        self.conv = QuantConv2d(cin, cout, 3, padding=padding, bias=False, weight_quant=Int8WeightPerChannelFloat)
        self.bn = nn.BatchNorm2d(cout)
        self.out = shortcut_quant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.bn(self.conv(self.inp(x))))


class BinaryConv(nn.Module):
    """[RSign bias] -> sign -> bipolar pad -> 1-bit conv -> BN -> shortcut quant."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, pad: int = 1, rsign: bool = False,
                 pad_value: float = -1.0) -> None:
        super().__init__()
        self.rsign = nn.Parameter(torch.randn(1, cin, 1, 1) * 0.3) if rsign else None
        self.sign = sign()
        self.pad, self.pad_value = pad, pad_value
        self.conv = QuantConv2d(cin, cout, k, stride=stride, padding=0, bias=False, weight_quant=BinaryWeightMeanAbs)
        self.bn = nn.BatchNorm2d(cout)
        self.out = shortcut_quant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rsign is not None:
            x = x - self.rsign
        x = self.sign(x)
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, value=self.pad_value)
        return self.out(self.bn(self.conv(x)))


class RPReLU(nn.Module):
    """ReActNet RPReLU: PReLU(x - gamma) + zeta, requantized to the shortcut grid."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.prelu = nn.PReLU(c)
        self.zeta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.out = shortcut_quant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.prelu(x - self.gamma) + self.zeta)


class ResidualBlock(nn.Module):
    """Bi-Real block: binary conv + shortcut (identity or avgpool[+1x1 conv]) -> requant [-> RPReLU]."""

    def __init__(self, cin: int, cout: int, stride: int = 1, rsign: bool = False, rprelu: bool = False,
                 conv_shortcut: bool = False) -> None:
        super().__init__()
        self.body = BinaryConv(cin, cout, stride=stride, rsign=rsign)
        self.down = None
        if stride == 2:
            layers = [nn.AvgPool2d(2), shortcut_quant()]
            if conv_shortcut:
                layers += [QuantConv2d(cin, cout, 1, bias=False, weight_quant=Int8WeightPerChannelFloat),
                           nn.BatchNorm2d(cout), shortcut_quant()]
            self.down = nn.Sequential(*layers)
        self.add_quant = shortcut_quant()
        self.act = RPReLU(cout) if rprelu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sc = self.down(x) if self.down is not None else x
        y = self.add_quant(self.body(x) + sc)
        return self.act(y) if self.act is not None else y


class Reduction(nn.Module):
    """ReActNet reduction: two 1x1 binary convs on one input, each with that input as shortcut, concat."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = BinaryConv(c, c, k=1, pad=0, rsign=True)
        self.b = BinaryConv(c, c, k=1, pad=0, rsign=True)
        self.qa, self.qb = shortcut_quant(), shortcut_quant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.qa(self.a(x) + x), self.qb(self.b(x) + x)], dim=1)


class Head(nn.Module):
    """Global average pool -> shortcut quant -> flatten -> 8-bit linear (logits)."""

    def __init__(self, c: int, classes: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.q = shortcut_quant()
        self.fc = QuantLinear(c, classes, bias=False, weight_quant=Int8WeightPerChannelFloat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.q(self.pool(x)), 1))


def vgg_probe(cin: int = 1) -> nn.Module:
    """Plain binary VGG-style net, binary convs without padding."""
    return nn.Sequential(Stem(cin, 16, padding=0), BinaryConv(16, 16, pad=0), BinaryConv(16, 32, pad=0),
                         Head(32, 10))


def bireal_probe(cin: int = 1, conv_shortcut: bool = False, stem_pool: bool = False) -> nn.Module:
    """Bi-Real-style residual net: bipolar padding, avgpool (+1x1 conv) downsampling shortcut [, the ImageNet stem's
    MaxPool2d(3, 2, padding=1) between the stem's shortcut grid and the first block]."""
    pool = [nn.MaxPool2d(3, 2, padding=1)] if stem_pool else []
    return nn.Sequential(Stem(cin, 16), *pool, ResidualBlock(16, 16), ResidualBlock(16, 16, stride=2,
                         conv_shortcut=conv_shortcut), ResidualBlock(16, 16), Head(16, 10))


def reactnet_probe(cin: int = 1) -> nn.Module:
    """ReActNet-style net: RSign, RPReLU with negative slopes, 1x1 reduction + concat."""
    return nn.Sequential(Stem(cin, 16), ResidualBlock(16, 16, rsign=True, rprelu=True),
                         ResidualBlock(16, 16, stride=2, rsign=True, rprelu=True), Reduction(16), Head(32, 10))


def zero_pad_probe(cin: int = 1) -> nn.Module:
    """A binary conv with zero padding: must be refused."""
    return nn.Sequential(Stem(cin, 8), BinaryConv(8, 8, pad=1, pad_value=0.0), Head(8, 10))


def two_bit_act() -> QuantIdentity:
    """A user's 2-bit activation: stock per-tensor float-scaled Brevitas quantizer at bit_width 2."""
    return QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=2, return_quant_tensor=False)


def two_bit_probe(cin: int = 1, widths: tuple[int, ...] = (8, 16, 16), size: int = 8) -> nn.Module:
    """A user's 2-bit net (plain Brevitas): unpadded 3x3 convs, no pooling, linear head on the flattened map."""
    layers, c = [two_bit_act()], cin
    for w in widths:
        layers += [QuantConv2d(c, w, 3, bias=False, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=2),
                   nn.BatchNorm2d(w), two_bit_act()]
        c, size = w, size - 2
    head = QuantLinear(c * size * size, 10, bias=False, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=2)
    return nn.Sequential(*layers, nn.Flatten(), head)


def seeded(builder, seed: int, **kw) -> nn.Module:
    """Build a probe with seeded random weights and BN stats, in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = builder(**kw)
    randomize_bn(model, gen)
    return model.eval()
