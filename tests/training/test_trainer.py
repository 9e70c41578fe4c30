"""`xnorflow train`: resume after a kill, DDP, the distributional loss, and one-line errors on bad input."""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from xnorflow.cli import main
from xnorflow.training import metrics
from xnorflow.training.losses import distributional_loss
from xnorflow.training.recipes import RECIPES

TRAIN = ["train", "--model", "tiny-bireal", "--data", "digits", "--recipe", "binary", "--quiet"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xnorflow.cli", *args], capture_output=True, text=True)


def _curves(out: Path) -> list[dict]:
    """metrics.csv without the wall-clock column."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in metrics.read_csv(out / "metrics.csv")]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_killed_run_resumes_and_reproduces_the_uninterrupted_metrics(tmp_path: Path) -> None:
    epochs = ["--epochs", "3", "--limit", "512"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert main([*TRAIN, *epochs, "--out", str(straight)]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "xnorflow.cli", *TRAIN, *epochs, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = killed / "binary" / "checkpoint.pt"
    deadline = time.time() + 120   # an epoch is on disk once its checkpoint and then its metrics row are written
    while not (ckpt.exists() and (killed / "metrics.csv").exists()) and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(metrics.read_csv(killed / "metrics.csv"))
    assert done_before < 3, "the run finished before it could be killed"
    assert not (killed / "model.pt").exists()
    assert main([*TRAIN, *epochs, "--out", str(killed)]) == 0
    assert _curves(killed) == _curves(straight)
    a, b = torch.load(straight / "model.pt"), torch.load(killed / "model.pt")
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_two_process_ddp_on_gloo(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "xnorflow.cli", *TRAIN, "--epochs", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = metrics.read_csv(out / "metrics.csv")
    assert len(rows) == 2 and float(rows[-1]["test_acc"]) > 0.3
    assert (out / "model.pt").exists()


def _torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "xnorflow.cli", *TRAIN, "--device", "cpu", *args]


def test_two_process_run_killed_after_an_epoch_resumes_as_the_uninterrupted_one(tmp_path: Path) -> None:
    args = ["--epochs", "3", "--limit", "384"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = subprocess.run(_torchrun(*args, "--out", str(straight)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    proc = subprocess.Popen(_torchrun(*args, "--out", str(killed)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    ckpt = killed / "binary" / "checkpoint.pt"
    deadline = time.time() + 120   # an epoch is on disk once its checkpoint and then its metrics row are written
    while not (ckpt.exists() and (killed / "metrics.csv").exists()) and time.time() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks at once
    proc.wait()
    assert len(metrics.read_csv(killed / "metrics.csv")) < 3, "the run finished before it could be killed"
    resumed = subprocess.run(_torchrun(*args, "--out", str(killed)), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _curves(killed) == _curves(straight)
    assert [int(r["epoch"]) for r in _curves(killed)] == [1, 2, 3]
    a, b = torch.load(straight / "model.pt"), torch.load(killed / "model.pt")
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_distributional_loss_is_kl_teacher_to_student() -> None:
    student, teacher = torch.randn(5, 10), torch.randn(5, 10)
    p_r, p_b = F.softmax(teacher, 1), F.softmax(student, 1)
    by_hand = -(p_r * torch.log(p_b / p_r)).sum(1).mean()
    assert torch.allclose(distributional_loss(student, teacher), by_hand, atol=1e-6)


def test_training_with_a_teacher_checkpoint(tmp_path: Path, digits_ckpt: Path) -> None:
    out = tmp_path / "kd"
    assert main(["train", "--model", "tiny-reactnet", "--data", "digits", "--recipe", "reactnet", "--epochs", "1",
                 "--limit", "256", "--teacher", str(digits_ckpt), "--quiet", "--out", str(out)]) == 0
    assert [r["step"] for r in metrics.read_csv(out / "metrics.csv")] == ["binary-activations", "binary"]


def _error(capsys: pytest.CaptureFixture, *args: str) -> str:
    assert main(list(args)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    return err


@pytest.mark.parametrize("args,message", [
    (["--model", "resnet-9000", "--data", "digits"], "unknown model 'resnet-9000'"),
    (["--model", "tiny-bireal", "--data", "mnist-3d"], "--data: invalid choice: 'mnist-3d' (choose from 'digits'"),
    (["--model", "tiny-bireal", "--data", "digits", "--recipe", "magic"], "--recipe: invalid choice: 'magic'"),
    (["--model", "tiny-bireal", "--data", "fashion-mnist", "--data-root", "/nonexistent"],
     "Fashion-MNIST not found at /nonexistent/train-images-idx3-ubyte.gz; apt-get install dataset-fashion-mnist"),
    (["--model", "tiny-bireal", "--data", "cifar10", "--data-root", "/nonexistent"], "cifar10 not found at"),
    (["--model", "tiny-bireal", "--data", "imagefolder"], "imagefolder needs --data-root"),
    (["--model", "bireal18", "--data", "digits"], "input 1x8x8 does not fit model 'bireal18'"),
    (["--model", "tiny-bireal", "--data", "digits", "--device", "tpu"], "--device 'tpu' is not one of auto, cpu"),
    (["--model", "tiny-bireal", "--data", "digits", "--workers", "-1"], "--workers: '-1' is not an integer >= 0"),
    (["--model", "tiny-bireal", "--data", "digits", "--shortcut-frac-bits", "3"],
     "--shortcut-frac-bits sets a fixed shortcut grid, but the ranges are chosen from the data; add --fixed-ranges"),
])
def test_bad_input_is_one_line(capsys: pytest.CaptureFixture, tmp_path: Path, args: list[str], message: str) -> None:
    assert message in _error(capsys, "train", *args, "--out", str(tmp_path / "x"))


def test_cli_exit_code_and_stderr_in_a_real_process(tmp_path: Path) -> None:
    proc = _cli("train", "--model", "nope", "--data", "digits", "--out", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.startswith("xnorflow: error: unknown model 'nope'")


def test_corrupt_checkpoint_is_refused_and_left_alone(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "1", "--limit", "128", "--out", str(out)]) == 0
    (out / "model.pt").unlink()
    ckpt = out / "binary" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    before = _digest(out)
    err = _error(capsys, *TRAIN, "--epochs", "1", "--limit", "128", "--out", str(out))
    assert "is corrupt or not a torch file" in err
    assert _digest(out) == before


def test_other_run_in_out_dir_is_not_overwritten(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                 digits_ckpt: Path) -> None:
    run_dir = digits_ckpt.parent
    before = _digest(run_dir)
    err = _error(capsys, *TRAIN, "--epochs", "3", "--out", str(run_dir))
    assert "holds a run with other settings" in err and "recipe" in err
    assert _digest(run_dir) == before


@pytest.mark.parametrize("teacher,message", [
    ("missing.pt", "does not exist"),
    ("torchscript:missing.ts", "does not exist"),
])
def test_bad_teacher(capsys: pytest.CaptureFixture, tmp_path: Path, teacher: str, message: str) -> None:
    err = _error(capsys, *TRAIN, "--teacher", str(tmp_path / teacher) if ":" not in teacher else teacher,
                 "--out", str(tmp_path / "t"))
    assert message in err


def test_teacher_of_other_classes_is_refused(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    ts = tmp_path / "t.ts"
    torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 7))).save(str(ts))
    err = _error(capsys, *TRAIN, "--teacher", f"torchscript:{ts}", "--out", str(tmp_path / "t"))
    assert "gives (7,) outputs, the data has 10 classes" in err


def test_checkpoint_of_another_model_is_refused(tmp_path: Path, digits_ckpt: Path) -> None:
    from xnorflow.errors import XnorflowError
    from xnorflow.training import checkpoint
    from xnorflow.training.models.registry import build_model

    with pytest.raises(XnorflowError, match="does not match the model"):
        checkpoint.load_state(build_model("tiny-reactnet"), checkpoint.load(digits_ckpt)["state_dict"], "x")


@pytest.mark.parametrize("recipe_name,estimators", [("bireal", ["ste", "approx"]), ("reactnet", ["approx", "approx"])])
def test_each_step_trains_with_its_own_sign_estimator(tmp_path: Path, recipe_name: str, estimators: list[str]) -> None:
    out = tmp_path / recipe_name
    assert main(["train", "--model", "tiny-bireal", "--data", "digits", "--recipe", recipe_name, "--epochs", "1",
                 "--limit", "128", "--quiet", "--out", str(out)]) == 0
    steps = [s.name for s in RECIPES[recipe_name]]
    assert [torch.load(out / s / "checkpoint.pt")["spec"]["estimator"] for s in steps] == estimators


def test_progress_bars_name_the_step_and_stay_off_a_file(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Bars say 'step 1 of 2 (real) epoch 1/1'; written to a file (not a terminal) they write nothing."""
    from tqdm import tqdm

    from xnorflow.training import trainer

    bars: list[tuple[str, tqdm]] = []
    monkeypatch.setattr(trainer, "tqdm", lambda *args, **kw: bars.append((kw["desc"], tqdm(*args, **kw))) or bars[-1][1])
    assert main(["train", "--model", "tiny-bireal", "--data", "digits", "--recipe", "bireal", "--epochs", "1",
                 "--limit", "64", "--out", str(tmp_path / "run")]) == 0
    assert [desc for desc, _ in bars] == ["step 1 of 2 (real) epoch 1/1", "step 2 of 2 (binary) epoch 1/1"]
    assert all(bar.disable for _, bar in bars) and capsys.readouterr().err == ""


OLD = Path(__file__).parents[1] / "build_flows" / "data"


@pytest.mark.parametrize("name,options", [("trained_tiny_hyperbnn.pt", {"dpconv_mean": False}),
                                          ("trained_tiny_real2bin.pt", {"gate_reads_bn": False}),
                                          ("trained_tiny_reactnet.pt", {})])
def test_a_v1_checkpoint_loads_as_it_was_trained(name: str, options: dict) -> None:
    from xnorflow.training import checkpoint

    model, ckpt = checkpoint.load_model(OLD / name)
    assert ckpt["options"] == options and ckpt["upgraded_from"] == "xnorflow-checkpoint-v1"
    own = model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in ckpt["state_dict"].items() if k in own)
    assert {k for k, _ in model.named_parameters()} <= set(ckpt["state_dict"])


def test_a_v1_run_is_not_resumed_with_other_recipes(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "2", "--limit", "64", "--out", str(out)]) == 0
    ckpt = torch.load(out / "binary" / "checkpoint.pt")
    torch.save({**ckpt, "format": "xnorflow-checkpoint-v1", "epoch": 1}, out / "binary" / "checkpoint.pt")
    (out / "model.pt").unlink()
    assert "was written by an older xnorflow" in _error(capsys, *TRAIN, "--epochs", "2", "--limit", "64",
                                                        "--out", str(out))


def test_cuda_device_without_cuda_is_one_line(capsys: pytest.CaptureFixture, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    err = _error(capsys, *TRAIN, "--device", "cuda:1", "--out", str(tmp_path / "gpu"))
    assert "--device cuda:1: this torch" in err and "sees no CUDA device; use --device cpu" in err
    assert not (tmp_path / "gpu").exists()
