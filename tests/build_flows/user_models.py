"""Binary networks as a new user writes them: plain `brevitas.nn` layers, default Brevitas quantizers
(float scales), max-pooling and flattens, no xnorflow blocks or snapped requantizers."""
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from brevitas.quant.binary import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
from torch import nn


def act(bits: int, signed: bool = True) -> nn.Module:
    """Sign (1 bit), or a signed / unsigned (ReLU) multi-bit activation quantizer."""
    if bits == 1:
        return QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=False)
    if signed:
        return QuantIdentity(bit_width=bits, return_quant_tensor=False)
    return QuantReLU(bit_width=bits, return_quant_tensor=False)


def conv(cin: int, cout: int, bits: int, k: int = 3) -> QuantConv2d:
    """Unpadded conv with 1-bit (bipolar) or multi-bit weights."""
    if bits == 1:
        return QuantConv2d(cin, cout, k, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
    return QuantConv2d(cin, cout, k, bias=False, weight_bit_width=bits)


def linear(cin: int, cout: int, bits: int) -> QuantLinear:
    """Fully connected layer with 1-bit (bipolar) or multi-bit weights."""
    if bits == 1:
        return QuantLinear(cin, cout, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
    return QuantLinear(cin, cout, bias=False, weight_bit_width=bits)


POOL_ORDERS = {"act-pool": ("bn", "act", "pool"), "bn-pool": ("bn", "pool", "act"), "pool-bn": ("pool", "bn", "act")}


def vgg_pool(bits: int = 1, signed: bool = True, order: str = "act-pool", k: int = 2, stride: int = 2,
             padding: int = 0) -> nn.Module:
    """12x12 VGG-style: 8-bit input and first conv, then `bits`-bit convs with a MaxPool2d after the second,
    after the activation (FINN's CNV: conv, BN, sign, pool), between BN and activation, or in front of the BN
    (BinaryNet's conv, pool, BN, sign): `order`."""
    layers = {"bn": nn.BatchNorm2d(8), "act": act(bits, signed), "pool": nn.MaxPool2d(k, stride, padding)}
    side = (8 + 2 * padding - k) // stride - 1
    return nn.Sequential(
        QuantIdentity(bit_width=8, return_quant_tensor=False), conv(1, 8, 8), nn.BatchNorm2d(8), act(bits, signed),
        conv(8, 8, bits), *(layers[name] for name in POOL_ORDERS[order]),
        conv(8, 16, bits), nn.BatchNorm2d(16), act(bits, signed),
        nn.Flatten(), linear(16 * side * side, 10, bits))


def mlp(flatten_first: bool = True) -> nn.Module:
    """28x28 binary MLP (TFC-style): flatten, 8-bit input quant (the flatten before or after it), 1-bit
    QuantLinear -> BatchNorm1d -> sign twice, last QuantLinear -> BatchNorm1d (per-class scale) as logits."""
    head = [nn.Flatten(), QuantIdentity(bit_width=8, return_quant_tensor=False)]
    return nn.Sequential(
        *(head if flatten_first else head[::-1]),
        linear(28 * 28, 32, 1), nn.BatchNorm1d(32), act(1),
        linear(32, 32, 1), nn.BatchNorm1d(32), act(1),
        linear(32, 10, 1), nn.BatchNorm1d(10))


class TensorNorm(nn.Module):
    """BNN-PYNQ's TensorNorm: one learned scale and bias for the whole tensor (a scalar Mul + Add)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight + self.bias


def lenet() -> nn.Module:
    """12x12 binary LeNet: conv, maxpool, conv, maxpool, FC, FC; each pool behind its sign, and a TensorNorm in
    front of the hidden FC's sign."""
    return nn.Sequential(
        QuantIdentity(bit_width=8, return_quant_tensor=False), conv(1, 8, 8), nn.BatchNorm2d(8), act(1),
        nn.MaxPool2d(2), conv(8, 16, 1, k=2), nn.BatchNorm2d(16), act(1), nn.MaxPool2d(2),
        nn.Flatten(), linear(16 * 2 * 2, 32, 1), TensorNorm(), act(1), linear(32, 10, 1))


def float_input_conv() -> nn.Module:
    """A Conv reading a float tensor (no input quantizer): must be refused."""
    return nn.Sequential(conv(1, 8, 1), nn.BatchNorm2d(8), act(1), nn.Flatten(), linear(8 * 10 * 10, 10, 1))


def randomize(model: nn.Module, seed: int) -> nn.Module:
    """Random weights, random BatchNorm (some negative scales) and TensorNorm, in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.weight.data = (torch.randn(c, generator=gen).abs() + 0.2) * torch.where(
                torch.rand(c, generator=gen) < 0.3, -1.0, 1.0)
            m.bias.data = torch.randn(c, generator=gen)
            m.running_mean.data = torch.randn(c, generator=gen) * 3
            m.running_var.data = torch.rand(c, generator=gen) * 20 + 1
        if isinstance(m, TensorNorm):
            m.weight.data = -(torch.rand(1, generator=gen) + 0.5)
            m.bias.data = torch.randn(1, generator=gen)
        if isinstance(m, (QuantConv2d, QuantLinear)):
            m.weight.data = torch.randn(m.weight.shape, generator=gen) * 0.3
    return model.eval()
