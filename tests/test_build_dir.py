"""No command destroys a user's files: `--out` replaces only an earlier xnorflow build, every argument is checked
before anything is touched, a second writer is refused, interrupted runs leave nothing behind; bad input is one
line. Driven through the `xnorflow` entry point as a user types it."""
from __future__ import annotations

import fcntl
import hashlib
import random
import shutil
from pathlib import Path

import pytest

from xnorflow.build_dir import MARKER, STAGING, check_out, locked
from xnorflow.cli import main
from xnorflow.errors import XnorflowError


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` (relative path -> sha256), directories as '<dir>'."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<dir>"
            for p in sorted(root.rglob("*"))}


def one_line_error(capsys, argv: list[str], match: str) -> str:
    """Run the command; it must exit 2 with exactly one stderr line matching `match`."""
    assert main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("xnorflow: error:")]
    assert len(err) == 1, err
    assert __import__("re").search(match, err[0]), err[0]
    return err[0]


@pytest.fixture(scope="module")
def good_build(tmp_path_factory) -> Path:
    """A finished hw-graph build of tiny-bireal (built once, copied by each test)."""
    out = tmp_path_factory.mktemp("good") / "b"
    assert main(["build", "--model", "tiny-bireal", "--out", str(out)]) == 0
    return out


@pytest.fixture
def workdir(tmp_path, monkeypatch, good_build) -> Path:
    """A working directory holding a user's files and a previous good build `b`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("1,2\n")
    (tmp_path / "link").symlink_to(tmp_path / "data")
    shutil.copytree(good_build, tmp_path / "b")
    return tmp_path


@pytest.mark.fast
@pytest.mark.parametrize("out, why", [(".", "the working directory"), ("link", "is a symbolic link"), ("..", "a parent of the working directory"),
                                      ("/", "the file-system root"), ("~", "your home directory"),
                                      ("data", "did not write"), ("notes.txt", "is a file"),
                                      ("notes.txt/sub", "inside the file")])
def test_out_refused_and_nothing_touched(workdir, capsys, out, why):
    """`--out .`, `..`, `/`, `~`, a user's folder, a file: refused in one line, no file changes."""
    before = snapshot(workdir)
    one_line_error(capsys, ["build", "--model", "tiny-bireal", "--out", out], why)
    assert snapshot(workdir) == before


@pytest.mark.fast
def test_check_out_accepts_new_empty_and_builds(workdir):
    """A new folder, an empty one and an earlier build may be written."""
    (workdir / "empty").mkdir()
    for name in ("new/deeper", "empty", "b"):
        assert check_out(name) == (workdir / name).resolve()
    assert (workdir / "b" / MARKER).is_file()


BAD_ARGS = [
    (["--board", "Zedboard"], "unknown board 'Zedboard'"),
    (["--folding", "0"], "--folding 0: a cycles/frame target must be a positive integer"),
    (["--folding", "-3"], "--folding -3: a cycles/frame target must be a positive integer"),
    (["--folding", "missing.json"], "cannot read folding config missing.json"),
    (["--folding", "list.json"], "is a JSON list, not an object of layers"),
    (["--folding", "float_pe.json"], r"MVAU_1\.PE is 2\.5, not a positive integer"),
    (["--folding", "unknown_attr.json", "--target", "rtl"], "layer MVAU_1 \\(MVAU\\) has no attribute PEE"),
    (["--folding", "indivisible.json", "--target", "rtl"], "PE=5 does not divide MH=16; use PE=4"),
    (["--target", "gds"], "invalid choice: 'gds'"),
    (["--frames", "0"], "'0' is not a positive integer"),
    (["--model", "no-such-model"], "no-such-model"),
    (["--model", "garbage.onnx"], "garbage.onnx is not a readable ONNX model"),
]
CONFIGS = {"list.json": "[1, 2]", "float_pe.json": '{"MVAU_1": {"PE": 2.5}}',
           "unknown_attr.json": '{"MVAU_1": {"PEE": 2}}', "indivisible.json": '{"MVAU_1": {"PE": 5}}'}


@pytest.mark.parametrize("extra, match", [pytest.param(a, m, marks=() if "rtl" in a else pytest.mark.fast)
                                          for a, m in BAD_ARGS], ids=[" ".join(a) for a, _ in BAD_ARGS])
def test_bad_argument_keeps_previous_build(workdir, capsys, extra, match):
    """Each bad argument (some found only after the HW graph exists) is one line; the old build survives intact."""
    for name, text in CONFIGS.items():
        (workdir / name).write_text(text)
    (workdir / "garbage.onnx").write_bytes(b"\x08\x07not onnx")
    before = snapshot(workdir)
    argv = ["build", "--model", "tiny-bireal", "--out", "b", *extra]
    if "--model" in extra:
        argv = ["build", "--out", "b", *extra]
    one_line_error(capsys, argv, match)
    assert snapshot(workdir) == before


@pytest.mark.fast
def test_property_random_argument_errors(workdir, capsys):
    """Random mixes of bad arguments: always one line, never a changed file, the previous build intact."""
    for name, text in CONFIGS.items():
        (workdir / name).write_text(text)
    before = snapshot(workdir)
    rng = random.Random(13)
    cheap = [a for a, _ in BAD_ARGS if "--target" not in a and "--model" not in a]
    outs = [".", "data", "notes.txt", "b", "fresh/b"]
    for _ in range(12):
        extra = [x for args in rng.sample(cheap, 2) for x in args]
        assert main(["build", "--model", "tiny-bireal", "--out", rng.choice(outs), *extra]) == 2
        assert len([ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("xnorflow: error")]) == 1
        assert snapshot(workdir) == before


@pytest.mark.fast
def test_second_writer_refused(workdir, capsys):
    """While one command holds a build directory's lock, a second build into it is refused in one line."""
    before = snapshot(workdir)
    with locked((workdir / "b").resolve()):
        one_line_error(capsys, ["build", "--model", "tiny-bireal", "--out", "b"], "another xnorflow command is writing")
    assert snapshot(workdir) == before
    assert not (workdir / ".b.lock").exists()


def test_rebuild_replaces_only_its_own_and_cleans_stale(workdir, capsys):
    """A rebuild replaces the earlier build, removes staging dirs an interrupted run left, keeps look-alikes."""
    stale = workdir / ".b.k3j4h5x_"
    stale.mkdir()
    (stale / STAGING).write_text("")
    (stale / "hw.onnx").write_text("half-written")
    lookalike = workdir / ".b.mine"
    lookalike.mkdir()
    (lookalike / "keep.txt").write_text("a user's hidden folder\n")
    backup = workdir / ".b.backup01"  # a user's copy of a finished build: marker, but no staging mark
    shutil.copytree(workdir / "b", backup)
    (workdir / "b" / "stray.txt").write_text("old build content\n")
    assert main(["build", "--model", "tiny-bireal", "--out", "b"]) == 0
    assert not stale.exists() and (lookalike / "keep.txt").is_file() and (backup / MARKER).is_file()
    assert (workdir / "b" / MARKER).is_file() and not (workdir / "b" / "stray.txt").exists()
    assert sorted(p.name for p in workdir.iterdir() if p.name.startswith(".b")) == [".b.backup01", ".b.mine"]
    assert (workdir / "notes.txt").read_text() == "mine\n"


def test_bitfile_stop_keeps_what_was_written(workdir, capsys, monkeypatch):
    """No Vivado: the build is published (RTL, Vivado script) and the stop is one line naming what to install."""
    from xnorflow.hw import accelerator
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(accelerator, "synth_report", lambda st, b: {"fits": True})
    one_line_error(capsys, ["build", "--model", "tiny-bireal", "--out", "b", "--target", "bitfile",
                            "--folding", "6000"], "Vivado is not installed.*install Vivado")
    assert (workdir / "b" / "vivado" / "build_bitfile.tcl").is_file()
    assert (workdir / "b" / "rtl" / "folding.json").is_file()
    assert not [p for p in workdir.iterdir() if p.name.startswith(".b.")]


def test_export_never_overwrites_a_foreign_file(workdir, capsys):
    """`xnorflow export --out` refuses a path that is not .onnx, or an existing file it did not write."""
    before = snapshot(workdir)
    one_line_error(capsys, ["export", "tiny-bireal", "--out", "notes.txt"], "does not end in .onnx")
    (workdir / "theirs.onnx").write_bytes(b"someone else's model")
    before = snapshot(workdir)
    one_line_error(capsys, ["export", "tiny-bireal", "--out", "theirs.onnx"], "was not written by `xnorflow export`")
    assert snapshot(workdir) == before
    assert main(["export", "tiny-bireal", "--out", "ours.onnx"]) == 0
    assert main(["export", "tiny-bireal", "--out", "ours.onnx"]) == 0  # its own export may be replaced


@pytest.mark.fast
@pytest.mark.parametrize("argv, match", [
    (["train", "--model", "tiny-bireal", "--data", "digits", "--out", "r", "--epochs", "0"], "'0' is not a positive"),
    (["train", "--model", "tiny-bireal", "--data", "digits", "--out", "r", "--epochs", "-1"], "'-1' is not a positive"),
    (["verify", "data"], "data is a folder without report.json, not a build directory"),
    (["sim", "data"], "has no RTL"),
])
def test_one_line_errors(workdir, capsys, argv, match):
    """Bad input to train/verify/sim: one line naming the problem, nothing written."""
    before = snapshot(workdir)
    one_line_error(capsys, argv, match)
    assert snapshot(workdir) == before


def test_unsupported_layer_named_not_its_transposes(workdir, capsys):
    """An LSTM is reported as the LSTM, not as the Transpose that feeds it."""
    import torch
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantIdentity
    from torch import nn

    class Recurrent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q, self.lstm = QuantIdentity(), nn.LSTM(8, 8, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lstm(self.q(x).flatten(2).transpose(1, 2))[0][:, -1]

    export_qonnx(Recurrent().eval(), torch.zeros(1, 8, 2, 2), str(workdir / "lstm.onnx"))
    one_line_error(capsys, ["build", "--model", "lstm.onnx", "--out", "l"], r"unsupported layer LSTM 'LSTM_0'")
    assert not (workdir / "l").exists()


@pytest.mark.fast
def test_lock_is_exclusive_across_descriptors(tmp_path):
    """The lock holds against a second open of the same lock file (as another process would)."""
    with locked(tmp_path / "b"):
        with open(tmp_path / ".b.lock") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with pytest.raises(XnorflowError, match="another xnorflow command"), locked(tmp_path / "c"), locked(tmp_path / "c"):
        pass


@pytest.mark.fast
@pytest.mark.parametrize("out, match", [("data", "did not write"), ("notes.txt", "is a file")])
def test_train_never_writes_into_a_foreign_folder(workdir, capsys, out, match):
    """`xnorflow train --out` refuses a user's folder or a file before it writes anything."""
    before = snapshot(workdir)
    one_line_error(capsys, ["train", "--model", "tiny-bireal", "--data", "digits", "--out", out, "--epochs", "1"],
                   match)
    assert snapshot(workdir) == before


def test_unchanged_rebuild_reuses_rtl(workdir, capsys, monkeypatch):
    """`xnorflow build --target rtl` again with the same model, board and folding keeps rtl/; a new folding regenerates it."""
    from xnorflow.hw import accelerator
    argv = ["build", "--model", "tiny-bireal", "--out", "b", "--target", "rtl", "--folding", "6000"]
    assert main(argv) == 0
    before = snapshot(workdir / "b" / "rtl")
    generate = accelerator.generate_rtl
    monkeypatch.setattr(accelerator, "generate_rtl", None)  # a regeneration would fail
    assert main(argv) == 0
    assert snapshot(workdir / "b" / "rtl") == before
    monkeypatch.setattr(accelerator, "generate_rtl", generate)
    assert main(argv[:-1] + ["9000"]) == 0
    assert snapshot(workdir / "b" / "rtl")["folding.json"] != before["folding.json"]
