"""The terminal shows xnorflow's own lines; what the libraries print goes to the build's build.log (--verbose
shows it); `make bitfile` names its build after the checkpoint's run folder."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xnorflow.chatter import keep, say, to_log

ROOT = Path(__file__).parents[1]
XNORFLOW = Path(sys.executable).parent / "xnorflow"


def test_build_prints_only_its_own_lines(tmp_path: Path) -> None:
    """A registry build: one note (untrained weights) and the hw-graph line; FINN, QONNX and Brevitas chatter is in
    build.log."""
    out = tmp_path / "b"
    run = subprocess.run([str(XNORFLOW), "build", "--model", "tiny-bireal", "--out", str(out)], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    lines = run.stdout.splitlines()
    assert len(lines) == 2 and run.stderr == "", (run.stdout, run.stderr)
    assert lines[0].startswith("note: tiny-bireal is a registry name: building its untrained initial weights")
    assert lines[1].startswith("hw-graph: ")
    log = (out / "build.log").read_text()
    for chatter in ("fast_hadamard_transform", "Skipping near match", "Producers not identical",
                    "Assuming 4D input is NCHW"):
        assert chatter in log, chatter


@pytest.mark.fast
def test_own_lines_and_warnings_reach_the_user(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Inside the redirection: say() (xnorflow's lines, `warning:` included) to the user; print, raw file-descriptor
    writes and child processes to the log (warnings too: the build test above shows them there)."""
    with to_log():
        say("warning: a near tie")
        print("a library narrates")
        os.write(2, b"a C extension writes\n")
        subprocess.run(["echo", "a tool reports"], check=True)
        keep(tmp_path / "build.log")
    seen = capsys.readouterr()
    assert seen.out == "warning: a near tie\n" and seen.err == ""
    log = (tmp_path / "build.log").read_text()
    assert all(text in log for text in ("a library narrates", "a C extension", "a tool reports"))


@pytest.mark.fast
def test_verbose_leaves_the_streams_alone(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with to_log(verbose=True):
        print("a library narrates")
        keep(tmp_path / "build.log")
    assert capsys.readouterr().out == "a library narrates\n" and not (tmp_path / "build.log").exists()


@pytest.mark.fast
def test_a_crash_names_its_log(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(RuntimeError), to_log():
        print("what led to it")
        raise RuntimeError("boom")
    log = Path(capsys.readouterr().err.split(" is in ")[1].strip())
    assert "what led to it" in log.read_text()
    log.unlink()


def _bitfile_command(*make_args: str) -> str:
    """The `xnorflow build` line `make bitfile` would run (dry run: no Vivado needed)."""
    dry = subprocess.run(["make", "-n", "bitfile", *make_args], cwd=ROOT, capture_output=True, text=True, check=True)
    return next(line for line in dry.stdout.splitlines() if "xnorflow build" in line)


@pytest.mark.fast
def test_make_bitfile_builds_a_checkpoint_into_its_run_name() -> None:
    line = _bitfile_command("CKPT=runs/fashion-a/model.pt", "BOARD=KV260")
    assert "--model runs/fashion-a/model.pt " in line and line.endswith("--out build/fashion-a-KV260")


@pytest.mark.fast
def test_make_bitfile_of_a_registry_name() -> None:
    assert _bitfile_command("MODEL=reactnet-a").endswith("--model reactnet-a --board Pynq-Z2 --target bitfile "
                                                          "--out build/reactnet-a-Pynq-Z2")


@pytest.mark.fast
def test_make_bitfile_of_a_family_name_on_the_default_board() -> None:
    """`make bitfile MODEL=reactnet` as users type it: the build resolves the family name; BOARD is Pynq-Z2."""
    assert _bitfile_command("MODEL=reactnet").endswith("--model reactnet --board Pynq-Z2 --target bitfile "
                                                       "--out build/reactnet-Pynq-Z2")


@pytest.mark.fast
def test_make_bitfile_of_a_checkpoint_or_onnx_given_as_model() -> None:
    line = _bitfile_command("MODEL=runs/fashion-b/model.pt")
    assert "--model runs/fashion-b/model.pt " in line and line.endswith("--out build/fashion-b-Pynq-Z2")
    assert _bitfile_command("MODEL=exports/net.onnx", "BOARD=Ultra96").endswith("--out build/net-Ultra96")
