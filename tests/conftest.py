"""Shared fixtures: small deterministic inputs and a trained tiny checkpoint reused across tests."""
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from xnorflow.training.models.registry import build_model
from xnorflow.training.requant import bn_affine, conv_accumulator
from xnorflow.hw.verilator import QUICK_COMPILE_ENV
from xnorflow.training.trainer import TrainConfig, run

GRID = 2.0 ** -4  # the default shortcut grid step


@pytest.fixture(scope="session", autouse=True)
def _quick_compile() -> Iterator[None]:
    """Test designs simulate a few frames: Verilator compiles them with the quick flags (hw/verilator.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(QUICK_COMPILE_ENV, "1")
        yield


@pytest.fixture(scope="session")
def digits_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny-bireal trained 2 epochs per step on digits (shared by tests that need a real checkpoint)."""
    out = tmp_path_factory.mktemp("digits_run")
    run(TrainConfig(model="tiny-bireal", data="digits", out=str(out), epochs=2, progress=False))
    return out / "model.pt"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def bireal_on_boundary() -> Callable[[float], torch.nn.Module]:
    """Makes tiny-bireal (eval, not snapped) whose first binary conv's BN puts popcount 40 of every channel
    `offset` grid steps above a .5 rounding boundary (7.5 + offset)."""
    def make(offset: float = 0.0) -> torch.nn.Module:
        model = build_model("tiny-bireal").eval()
        binconv = model.blocks[0].binconv
        acc = conv_accumulator(binconv.conv.conv, None)
        with torch.no_grad():
            binconv.bn.running_var.fill_(0.37)
            scale, _ = bn_affine(binconv.bn)
            binconv.bn.bias.copy_(torch.from_numpy(GRID * (7.5 + offset) - (acc.unit * 40 + acc.offset) * scale))
        return model
    return make
