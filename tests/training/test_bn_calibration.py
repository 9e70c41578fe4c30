"""BatchNorm re-estimation with the hard-sign forward: its statistics, its place in training, `xnorflow calibrate`, export."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Subset

from tests.training.test_models import _quant_outputs
from xnorflow.cli import main
from xnorflow.training import checkpoint
from xnorflow.training.bn_calibration import reestimate
from xnorflow.training.data import load_dataset
from xnorflow.training.models.registry import build_model
from xnorflow.training.requant import bn_affine

DIGITS = Subset(load_dataset("digits").train, range(256))


def _bn_stats(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if k.endswith(("running_mean", "running_var"))}


def test_statistics_are_those_of_the_eval_forward_and_exactness_stays() -> None:
    model = build_model("tiny-hyperbnn")
    before = _bn_stats(model)
    assert reestimate(model, DIGITS, 256, batches=1) == {"batches": 1, "images": 256}
    after = _bn_stats(model)
    assert all(not torch.equal(before[k], after[k]) for k in after)
    images = torch.stack([DIGITS[i][0] for i in range(256)])
    stem_out = model.stem.conv(model.stem.input_quant(images)).transpose(0, 1).flatten(1)  # eval: hard sign, quant
    assert torch.allclose(model.stem.bn.running_mean, stem_out.mean(1), atol=1e-5)
    assert torch.allclose(model.stem.bn.running_var, stem_out.var(1), rtol=1e-4)
    assert not model.training and not model.stem.bn.training
    with torch.no_grad():
        for name, (value, scale, _, _) in _quant_outputs(model, images[:8]).items():
            assert torch.equal(value / scale, (value / scale).round()), name


def test_train_re_estimates_at_the_end_of_each_binary_step(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["train", "--model", "tiny-bireal", "--data", "digits", "--recipe", "bireal", "--epochs", "1",
                 "--limit", "256", "--quiet", "--out", str(out)]) == 0
    assert torch.load(out / "real" / "checkpoint.pt")["calibration"] is None  # clip activations: no sign
    model, ckpt = checkpoint.load_model(out / "model.pt")
    assert ckpt["calibration"] == {"data": "digits", "batches": 4, "images": 256}
    saved = _bn_stats(model)
    reestimate(model, DIGITS, 64)  # the final weights re-estimated again give the statistics saved
    assert all(torch.allclose(saved[k], v, atol=1e-6) for k, v in _bn_stats(model).items())


def test_calibrate_command_rewrites_the_statistics_that_export_uses(tmp_path: Path, digits_ckpt: Path) -> None:
    from xnorflow.build_flows.pipeline import checkpoint_source

    ckpt = tmp_path / "model.pt"
    shutil.copy(digits_ckpt, ckpt)
    with torch.no_grad():
        state = torch.load(ckpt)
        for key in _bn_stats(checkpoint.load_model(ckpt)[0]):
            state["state_dict"][key] = torch.rand_like(state["state_dict"][key]) + 0.5  # stale statistics
        torch.save(state, ckpt)
    assert main(["calibrate", str(ckpt), "--batches", "3", "--batch-size", "32"]) == 0
    model, record = checkpoint.load_model(ckpt)
    assert record["calibration"] == {"data": "digits", "batches": 3, "images": 96}
    bn = model.blocks[0].binconv.bn
    assert not torch.allclose(bn.running_var, state["state_dict"]["blocks.0.binconv.bn.running_var"])
    exported = checkpoint_source(ckpt).model.blocks[0].binconv.bn  # snapped: statistics folded into the affine
    assert np.allclose(bn_affine(exported)[0], bn_affine(bn)[0], rtol=1e-2)


@pytest.mark.parametrize("args,message", [
    (["missing.pt"], "does not exist"),
    (["CKPT", "--out", "NOTES"], "exists and is not an xnorflow checkpoint"),
    (["CKPT", "--data", "cifar10", "--data-root", "/nonexistent"], "cifar10 not found at"),
])
def test_calibrate_bad_input_is_one_line(capsys: pytest.CaptureFixture, tmp_path: Path, digits_ckpt: Path,
                                         args: list[str], message: str) -> None:
    notes = tmp_path / "notes.txt"  # a user's file where --out points: never overwritten
    notes.write_text("mine\n")
    names = {"CKPT": str(digits_ckpt), "NOTES": str(notes)}
    assert main(["calibrate", *[names.get(a, a) for a in args]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert notes.read_text() == "mine\n"
