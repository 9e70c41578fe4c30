"""Bi-Real Net: a real identity shortcut around every binary 3x3 conv (Liu et al., ECCV 2018, Fig. 1 and Sec. 3.1)."""
from torch import Tensor, nn

from xnorflow.training.layers import AvgPoolShortcut, BinaryConv2d, QuantSpec, int_conv


class RealDownsample(nn.Module):
    """Downsampling shortcut: avg-pool [-> ReLU] -> real 1x1 conv (8-bit weights) -> BN -> grid (Bi-Real Sec. 4.1).

    With relu=True it is Hyper-BinaryNet's enhanced shortcut (Sec. 4: ReLU before the 1x1 conv)."""

    def __init__(self, cin: int, cout: int, spec: QuantSpec, relu: bool = False) -> None:
        super().__init__()
        self.pool = AvgPoolShortcut(spec)
        self.relu = nn.ReLU() if relu else nn.Identity()
        self.conv = int_conv(cin, cout, 1, 1, spec)
        self.bn = nn.BatchNorm2d(cout)
        self.quant = spec.shortcut()

    def forward(self, x: Tensor) -> Tensor:
        return self.quant(self.bn(self.conv(self.relu(self.pool(x)))))


class BiRealBlock(nn.Module):
    """out = grid(grid(BN(binconv(sign(x)))) + shortcut(x)): one binary conv, one real shortcut (Bi-Real Eq. 1)."""

    def __init__(self, cin: int, cout: int, stride: int, spec: QuantSpec) -> None:
        super().__init__()
        self.binconv = BinaryConv2d(cin, cout, 3, stride, spec)
        self.quant_branch = spec.shortcut()
        self.shortcut = RealDownsample(cin, cout, spec) if stride != 1 or cin != cout else nn.Identity()
        self.quant_out = spec.shortcut()

    def forward(self, x: Tensor) -> Tensor:
        return self.quant_out(self.quant_branch(self.binconv(x)) + self.shortcut(x))
