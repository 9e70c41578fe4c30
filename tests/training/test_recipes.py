"""Recipes as the papers give them: estimators, optimizers, learning-rate schedules and where attention matching applies."""
from pathlib import Path

import pytest
import torch

from xnorflow.cli import main
from xnorflow.training import losses, trainer
from xnorflow.training.recipes import RECIPES, recipe


def _lrs(name: str, index: int, epochs: int, batches: int = 1) -> list[float]:
    """The learning rate of every iteration of step `index` of recipe `name`."""
    step = RECIPES[name][index]
    optimizer = trainer._optimizer(torch.nn.Linear(2, 2), step)
    scheduler = trainer._scheduler(optimizer, step, epochs, batches)
    lrs = []
    for _ in range(epochs * batches):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_reactnet_trains_with_approxsign() -> None:
    assert [s.estimator for s in RECIPES["reactnet"]] == ["approx", "approx"]


def test_bireal_binary_step_is_sgd_with_step_decay() -> None:
    step = RECIPES["bireal"][1]
    optimizer = trainer._optimizer(torch.nn.Linear(2, 2), step)
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0.9
    assert all(group["weight_decay"] == 0 for group in optimizer.param_groups)
    assert _lrs("bireal", 1, 20) == pytest.approx([0.01] * 10 + [1e-3] * 5 + [1e-4] * 5)  # Bi-Real Sec. 4.1


def test_real2bin_warms_up_5_epochs_then_steps_at_40_60_70_of_75() -> None:
    lrs = _lrs("real2bin", 0, 75, batches=2)
    assert lrs[:10] == pytest.approx([1e-3 * (0.1 + 0.09 * i) for i in range(10)])  # 5 epochs of 2 batches
    assert lrs[10:80] == pytest.approx([1e-3] * 70)
    assert lrs[80:120] == pytest.approx([1e-4] * 40) and lrs[120:140] == pytest.approx([1e-5] * 20)
    assert lrs[140:] == pytest.approx([1e-6] * 10)
    assert _lrs("real2bin", 2, 75) == pytest.approx([2e-4] * 40 + [2e-5] * 20 + [2e-6] * 10 + [2e-7] * 5)


def test_hyperbnn_halves_the_learning_rate_at_a_third_and_two_thirds() -> None:
    assert _lrs("hyperbnn", 0, 9) == pytest.approx([5e-3] * 3 + [2.5e-3] * 3 + [1.25e-3] * 3)


def test_attention_weight_override_reaches_every_step() -> None:
    assert [s.attention_weight for s in recipe("real2bin", attention_weight=0.5)] == [0.5, 0.5, 0.5]
    assert [s.attention_weight for s in recipe("real2bin")] == [1.0, 1.0, 0.0]  # R2B Sec. 4.2: step 3 logits only


def test_real2bin_step1_matches_attention_with_a_teacher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    teacher = tmp_path / "teacher"
    common = ["--model", "tiny-real2bin", "--data", "digits", "--epochs", "1", "--limit", "64", "--quiet"]
    assert main(["train", *common, "--recipe", "float", "--out", str(teacher)]) == 0
    calls = []
    monkeypatch.setattr(losses, "attention_loss", lambda s, t: calls.append(len(s)) or torch.tensor(0.0))
    assert main(["train", *common, "--recipe", "real2bin", "--until", "soft-activations",
                 "--teacher", str(teacher / "model.pt"), "--out", str(tmp_path / "student")]) == 0
    assert calls == [4]  # one batch of 64, four blocks: the transfer points
