"""ReActNet-A: MobileNetV1 with full binary 3x3 convs, a shortcut around every binary conv (Liu et al., ECCV 2020, Sec. 3)."""
import torch
from torch import Tensor, nn

from xnorflow.training.layers import AvgPoolShortcut, BinaryConv2d, Head, LearnableBias, QuantSpec, RPReLU, Stem


class ReActConv(nn.Module):
    """sign -> pad -> binary conv -> BN -> grid, on an input already shifted by RSign's per-channel threshold."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, spec: QuantSpec) -> None:
        super().__init__()
        self.binconv = BinaryConv2d(cin, cout, kernel, stride, spec)
        self.quant = spec.shortcut()

    def forward(self, x_shifted: Tensor) -> Tensor:
        return self.quant(self.binconv(x_shifted))


class ReActBlock(nn.Module):
    """3x3 binary conv (+ avg-pool shortcut when strided), then 1x1 binary conv(s): duplicated + concat when C doubles (ReActNet Fig. 3)."""

    def __init__(self, cin: int, cout: int, stride: int, spec: QuantSpec) -> None:
        super().__init__()
        if cout not in (cin, 2 * cin):
            raise ValueError(f"ReActNet block needs cout = cin or 2*cin, got {cin}->{cout}")
        self.rsign1 = LearnableBias(cin)  # RSign (Eq. 1): shift here, the sign inside each binary conv
        self.conv3x3 = ReActConv(cin, cin, 3, stride, spec)
        self.shortcut = AvgPoolShortcut(spec) if stride == 2 else nn.Identity()
        self.add1 = spec.shortcut()
        self.rprelu1 = RPReLU(cin, spec)
        self.rsign2 = LearnableBias(cin)  # one threshold shared by the duplicated 1x1 convs
        self.pointwise = nn.ModuleList(ReActConv(cin, cin, 1, 1, spec) for _ in range(cout // cin))
        self.add2 = nn.ModuleList(spec.shortcut() for _ in range(cout // cin))
        self.rprelu2 = RPReLU(cout, spec)

    def forward(self, x: Tensor) -> Tensor:
        y = self.rprelu1(self.add1(self.conv3x3(self.rsign1(x)) + self.shortcut(x)))
        shifted = self.rsign2(y)
        halves = [add(conv(shifted) + y) for conv, add in zip(self.pointwise, self.add2)]
        return self.rprelu2(torch.cat(halves, dim=1) if len(halves) > 1 else halves[0])


class ReActNet(nn.Module):
    """Stem (real 3x3 conv) -> ReActNet blocks over the given channel plan -> head."""

    def __init__(self, channels: list[int], stem_stride: int, in_channels: int, num_classes: int,
                 spec: QuantSpec) -> None:
        super().__init__()
        self.stem = Stem(in_channels, channels[0], 3, stem_stride, spec, maxpool=False)
        blocks = []
        for cin, cout in zip(channels[:-1], channels[1:]):
            stride = 2 if cout == 2 * cin and len(blocks) > 0 else 1
            blocks.append(ReActBlock(cin, cout, stride, spec))
        self.blocks = nn.Sequential(*blocks)
        self.head = Head(channels[-1], num_classes, spec)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))
