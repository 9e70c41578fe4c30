"""User-style residual nets (plain Brevitas, `export_qonnx`): a shortcut cropped or zero-padded to the body's
size, and a residual Add of two differently scaled inputs. Each builds bit-exact or is refused in one line
that names the layer and what would make it supported."""
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from brevitas.export import export_qonnx
from brevitas.nn import QuantIdentity
from torch import nn

import probes
from xnorflow.build_flows.pipeline import build
from xnorflow.build_flows.verify import random_frames, verify
from xnorflow.errors import XnorflowError

SHAPE = (1, 1, 8, 8)


class CropBlock(nn.Module):
    """sign -> unpadded 3x3 binary conv -> BN -> requant, plus the shortcut cropped to the conv's output."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = probes.BinaryConv(c, c, pad=0)
        self.add_quant = probes.shortcut_quant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_quant(self.body(x) + x[:, :, 1:-1, 1:-1])


class ZeroPadBlock(nn.Module):
    """sign -> 3x3 binary conv padded by 2 with -1 -> BN -> requant, plus the shortcut zero-padded by 1."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = probes.BinaryConv(c, c, pad=2)
        self.add_quant = probes.shortcut_quant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_quant(self.body(x) + F.pad(x, (1, 1, 1, 1)))


class CoarseFixedPoint(probes.FixedPoint):
    """Signed 8-bit fixed point at scale 2^-3: a second, coarser grid."""

    scaling_const = 2.0 ** (8 - 1 - 3)
    max_val = 2.0 ** (8 - 1 - 3)
    min_val = -(2.0 ** (8 - 1 - 3))


class ScaledAddBlock(nn.Module):
    """A binary conv branch on the 2^-4 grid plus the shortcut requantized onto a 2^-3 grid, added."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = probes.BinaryConv(c, c)
        self.q_short = QuantIdentity(act_quant=CoarseFixedPoint, return_quant_tensor=False)
        self.add_quant = probes.shortcut_quant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_quant(self.body(x) + self.q_short(x))


def user_net(block: Callable[[int], nn.Module]) -> nn.Module:
    """Stem, one user block, head."""
    return nn.Sequential(probes.Stem(1, 8), block(8), probes.Head(8, 10))


def exported(tmp_path, block: type[nn.Module]) -> str:
    """The seeded user net's QONNX from Brevitas' own exporter."""
    with torch.no_grad():
        export_qonnx(probes.seeded(user_net, 0, block=block), torch.zeros(SHAPE), str(tmp_path / "user.onnx"))
    return str(tmp_path / "user.onnx")


@pytest.mark.parametrize("block, problem", [
    (CropBlock, r"^Slice 'Slice_0' \(node \d+ of \d+\) crops the shortcut of Add '\w+' .*: a resized shortcut has "
                r"no HW layer; add the shortcut as it is and pad the binary conv with -1 by k // 2"),
    (ZeroPadBlock, r"^Pad '\w+' \(node \d+ of \d+\) pads the shortcut of Add '\w+' .*: a resized shortcut has "
                   r"no HW layer; add the shortcut as it is"),
    (ScaledAddBlock, r"^Add '\w+' \(node \d+ of \d+\) joins different fixed-point formats .*0\.0625.*0\.125.*; "
                     r"use the one shortcut quantizer"),
])
def test_refused_in_one_line(tmp_path, block, problem):
    """Each is refused before any stage is written, in one line naming the layer and what makes it supported."""
    with pytest.raises(XnorflowError, match=problem) as err:
        build(exported(tmp_path, block), tmp_path / "b")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "b").exists()


def test_suggested_fix_verifies(tmp_path):
    """The refusals' fix (shortcut as it is, binary conv padded with -1 by 1) builds and every arrow holds."""
    model = probes.seeded(user_net, 0, block=lambda c: probes.ResidualBlock(c, c))
    with torch.no_grad():
        export_qonnx(model, torch.zeros(SHAPE), str(tmp_path / "user.onnx"))
    build(str(tmp_path / "user.onnx"), tmp_path / "b")
    arrows = verify(model, tmp_path / "b", random_frames(SHAPE, 16, seed=0))
    assert all(a.ok and a.max_abs_diff < 1e-5 for a in arrows), [str(a) for a in arrows]
