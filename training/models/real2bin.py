"""Real-to-Binary Net: the strong baseline block with data-driven channel re-scaling (Martinez et al., ICLR 2020, Sec. 4.1 and 4.3).

The gate G(A) >= 0 (a sigmoid, quantized unsigned) and PReLU is positively homogeneous, so
prelu(s * P * g) = g * prelu(s * P) exactly in real arithmetic: R2B Eq. 3's re-scaled conv followed by
PReLU equals PReLU first, gate second. The block is written in that order, with the PReLU output on the
shortcut grid before the gate multiplies it: in hardware the PReLU becomes a per-channel lookup on the
raw popcount, and the gate one integer (activation x activation) multiply per channel and pixel whose
product is requantized by thresholds (build_flows/gate.py).
"""
import torch
from brevitas.nn import QuantIdentity, QuantLinear
from torch import Tensor, nn

from xnorflow.training.layers import BipolarConv2d, QuantSpec
from xnorflow.training.models.bireal import RealDownsample
from xnorflow.training.quantizers import UnsignedFixedPointActQuant

GATE_BITS = 8


class ChannelGate(nn.Module):
    """G(A) = sigmoid(FC(ReLU(FC(avgpool(A))))) with reduction r, from a real-valued block tensor A (R2B Eq. 3, Fig. 1)."""

    def __init__(self, cin: int, cout: int, spec: QuantSpec, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(1, cin // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.quant_in = spec.shortcut()
        self.fc1 = QuantLinear(cin, hidden, bias=False, **spec.int_weight_quant())
        self.quant_hidden = spec.shortcut()
        self.fc2 = QuantLinear(hidden, cout, bias=False, **spec.int_weight_quant())
        self.quant_gate = (QuantIdentity(UnsignedFixedPointActQuant, bit_width=GATE_BITS, frac_bits=GATE_BITS)
                           if spec.quantized else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        hidden = self.quant_hidden(torch.relu(self.fc1(torch.flatten(self.quant_in(self.pool(x)), 1))))
        return self.quant_gate(torch.sigmoid(self.fc2(hidden)))[:, :, None, None]


class Real2BinBlock(nn.Module):
    """BN -> sign -> binary conv -> scale -> PReLU (-> grid -> x G(A)), + shortcut as the last op (R2B Sec. 4.1, Eq. 3).

    gate_reads_bn=True is R2B Fig. 1: the gate reads A, the BN output the sign binarizes. The default reads the
    block's input before BN, a deviation kept because the hardware flow cannot build Fig. 1 yet: with the BN output
    feeding both the sign and the gate's pool, FINN streamlining (build_flows/streamline.py) did not reach its
    fixpoint in 15 CPU-minutes on tiny-real2bin, where the input-gated block builds in a few."""

    def __init__(self, cin: int, cout: int, stride: int, spec: QuantSpec, gating: bool = True,
                 gate_reads_bn: bool = False) -> None:
        super().__init__()
        self.gate_reads_bn = gate_reads_bn
        self.bn = nn.BatchNorm2d(cin)
        self.sign = spec.sign()
        self.conv = BipolarConv2d(cin, cout, 3, stride, spec.binary_weight_quant())
        self.scale = nn.Parameter(torch.ones(1, cout, 1, 1))
        self.prelu = nn.PReLU(cout, init=0.25)
        self.gate = ChannelGate(cin, cout, spec) if gating else None
        self.quant_prelu = spec.shortcut() if gating else nn.Identity()
        self.quant_branch = spec.shortcut()
        self.shortcut = RealDownsample(cin, cout, spec) if stride != 1 or cin != cout else nn.Identity()
        self.quant_out = spec.shortcut()

    def forward(self, x: Tensor) -> Tensor:
        normed = self.bn(x)
        y = self.prelu(self.conv(self.sign(normed)) * self.scale)
        if self.gate is not None:  # = prelu(y * G(A)) up to the grid: PReLU is homogeneous, G >= 0
            y = self.quant_prelu(y) * self.gate(normed if self.gate_reads_bn else x)
        return self.quant_out(self.quant_branch(y) + self.shortcut(x))
