"""Input and shortcut grids chosen from the data (training/ranges.py): no input clipping, shortcut saturation
within the budget at initialisation, kept through the checkpoint, and exact on every arrow of the build."""
import dataclasses
import json
from pathlib import Path

import pytest
import torch
from brevitas.nn import QuantIdentity

from xnorflow.build_flows.pipeline import verify_artifact
from xnorflow.errors import XnorflowError
from xnorflow.training import checkpoint, ranges, trainer
from xnorflow.training.data import IMAGENET_MEAN, IMAGENET_STD, UNIT_RANGE, normalised_range
from xnorflow.training.layers import QuantSpec
from xnorflow.training.models.registry import BUILDERS
from xnorflow.training.quantizers import FixedPointActQuant

CIFAR_RANGE = normalised_range(IMAGENET_MEAN, IMAGENET_STD)  # (-2.118, 2.640)


def _quantize(x: torch.Tensor, bits: int, frac_bits: int) -> torch.Tensor:
    return QuantIdentity(FixedPointActQuant, bit_width=bits, frac_bits=frac_bits).eval()(x)


@pytest.mark.fast
def test_cifar_input_range_is_held_without_clipping() -> None:
    ends = torch.tensor(CIFAR_RANGE)
    assert ends[1].item() == pytest.approx(2.64)
    frac = ranges.input_frac_bits(CIFAR_RANGE, 8)
    assert frac == 5 and ranges.input_frac_bits(UNIT_RANGE, 8) == 6  # [-4, 4) for CIFAR; [-2, 2) for [-1, 1]
    assert torch.all((_quantize(ends, 8, frac) - ends).abs() <= 2.0 ** -(frac + 1))
    assert _quantize(ends, 8, 6)[1].item() == 2 - 2 ** -6  # the fixed grid clipped 2.64 to 1.984


@pytest.mark.fast
def test_saturation_count_is_brevitas_clamp() -> None:
    x = torch.cat([torch.randn(4000) * 6, torch.tensor([127.5, -128.5, 127.49, -128.51]) / 16])
    for frac in (4, 5, 6):
        clamped = _quantize(x, 8, frac) != torch.round(x * 2 ** frac) / 2 ** frac
        assert ranges.saturating(x, 8)[ranges.FRAC_BITS.index(frac)] == int(clamped.sum()) > 0


def test_reactnet_a_cifar_saturates_within_budget_at_initialisation() -> None:
    batches = [(torch.rand(4, 3, 32, 32) - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
               / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)]

    def initial(spec: QuantSpec) -> torch.nn.Module:
        torch.manual_seed(0)
        return BUILDERS["reactnet-a-cifar"](3, 10, spec.for_step("binact", "approx"))

    chosen = ranges.choose(initial, QuantSpec(), CIFAR_RANGE, batches)
    assert (chosen.input_frac_bits, chosen.shortcut_frac_bits) == (5, 3)
    assert chosen.shortcut_saturation <= ranges.BUDGET
    counts, total, _ = ranges.shortcut_counts(initial(QuantSpec(shortcut_frac_bits=3)), batches, 8)
    assert counts[3] / total <= ranges.BUDGET < counts[4] / total  # the fixed +-8 grid would clip more


def test_calibrated_ranges_survive_the_checkpoint_and_build_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    load = trainer.load_dataset
    monkeypatch.setattr(trainer, "load_dataset",  # digits, declared CIFAR's range: the input grid becomes [-4, 4)
                        lambda *a, **k: dataclasses.replace(load(*a, **k), pixel_range=CIFAR_RANGE))
    trainer.run(trainer.TrainConfig(model="tiny-real2bin", data="digits", out=str(tmp_path), recipe="binary", epochs=1,
                                    limit=256, progress=False))
    assert "ranges from the data (step 'binary' at initialisation): input frac_bits 5 ([-4, 4) in steps of 2^-5), " \
        "shortcut frac_bits 5 ([-4, 4) in steps of 2^-5, 0.00" in capsys.readouterr().out
    grids = json.loads((tmp_path / "ranges.json").read_text())
    assert json.loads((tmp_path / "summary.json").read_text())["ranges"] == grids
    assert grids["chosen"].startswith("from the data")
    assert (grids["input_frac_bits"], grids["shortcut_frac_bits"]) == (5, 5)  # tiny-real2bin's shortcuts stay in +-4.5
    model, ckpt = checkpoint.load_model(tmp_path / "model.pt")
    assert (ckpt["spec"]["input_frac_bits"], ckpt["spec"]["shortcut_frac_bits"]) == (5, 5)
    assert _quantize(torch.tensor([2.64]), 8, 5).item() == model.stem.input_quant(torch.tensor([2.64])).item() == 2.625
    arrows, frames = verify_artifact(tmp_path / "model.pt", frames=48)
    assert frames.startswith("digits test images")
    assert all(a.ok and a.max_abs_diff == 0 and a.frames == 48 for a in arrows), [str(a) for a in arrows]


def test_fixed_ranges_keep_the_fixed_grids(tmp_path: Path) -> None:
    trainer.run(trainer.TrainConfig(model="tiny-bireal", data="digits", out=str(tmp_path), recipe="binary", epochs=1,
                                    limit=64, progress=False, fixed_ranges=True, shortcut_frac_bits=3))
    spec = checkpoint.load(tmp_path / "model.pt")["spec"]
    assert (spec["input_frac_bits"], spec["shortcut_frac_bits"]) == (6, 3)
    assert json.loads((tmp_path / "ranges.json").read_text())["chosen"] == "fixed"


@pytest.mark.fast
def test_a_run_begun_before_ranges_json_keeps_its_checkpoint_grids(tmp_path: Path) -> None:
    spec = QuantSpec(input_frac_bits=5, shortcut_frac_bits=2)
    checkpoint.save_atomic({"format": checkpoint.FORMAT, "spec": dataclasses.asdict(spec)},
                           tmp_path / "binary" / "checkpoint.pt")
    cfg = trainer.TrainConfig(model="tiny-bireal", data="digits", out=str(tmp_path), recipe="binary")
    grids = trainer._grids(cfg, trainer.recipe("binary"), None, tmp_path, torch.device("cpu"))
    assert (grids["input_frac_bits"], grids["shortcut_frac_bits"]) == (5, 2)
    assert json.loads((tmp_path / "ranges.json").read_text()) == grids


@pytest.mark.fast
def test_resumed_run_with_other_shortcut_bits_is_one_line(tmp_path):
    """A resumed run keeps ranges.json's grids, and refuses in one line to keep them for other shortcut bits."""
    path = tmp_path / "ranges.json"
    path.write_text(json.dumps({"input_frac_bits": 6, "shortcut_frac_bits": 4, "shortcut_bits": 8,
                                "fixed_ranges": False}))
    assert trainer._resumed_grids(path, {"shortcut_bits": 8, "fixed_ranges": False})["shortcut_frac_bits"] == 4
    with pytest.raises(XnorflowError, match=r"ranges.json was chosen with shortcut_bits 8; this run asks for 6"):
        trainer._resumed_grids(path, {"shortcut_bits": 6, "fixed_ranges": False})
