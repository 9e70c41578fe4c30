"""Shared fixtures: small deterministic inputs and a trained tiny checkpoint reused across tests."""
from pathlib import Path

import pytest
import torch

from xnorflow.training.trainer import TrainConfig, run


@pytest.fixture(scope="session")
def digits_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny-bireal trained 2 epochs per step on digits (shared by tests that need a real checkpoint)."""
    out = tmp_path_factory.mktemp("digits_run")
    run(TrainConfig(model="tiny-bireal", data="digits", out=str(out), epochs=2, progress=False))
    return out / "model.pt"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
