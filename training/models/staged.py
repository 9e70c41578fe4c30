"""The ResNet layout shared by Bi-Real, Real-to-Binary and Hyper-BinaryNet: stem, stages of one-conv blocks, head."""
from collections.abc import Callable

from torch import Tensor, nn

from xnorflow.training.layers import Head, QuantSpec, Stem

BlockFactory = Callable[[int, int, int], nn.Module]


class StagedNet(nn.Module):
    """Stem -> stages of blocks (the first of each later stage strides by 2) -> head; `blocks` are the transfer points."""

    def __init__(self, stages: list[tuple[int, int]], stem: tuple[int, int, int, bool], in_channels: int,
                 num_classes: int, spec: QuantSpec, block: BlockFactory, head_relu: bool = False) -> None:
        super().__init__()
        width, kernel, stride, maxpool = stem
        self.stem = Stem(in_channels, width, kernel, stride, spec, maxpool)
        blocks: list[nn.Module] = []
        cin = width
        for index, (cout, convs) in enumerate(stages):
            for conv in range(convs):
                blocks.append(block(cin, cout, 2 if index > 0 and conv == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = Head(cin, num_classes, spec, relu=head_relu)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))
