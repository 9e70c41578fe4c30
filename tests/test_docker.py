"""The Docker image without a Docker daemon: what its build context leaves out, which torch wheels it installs,
and where the bitfile target looks for Vivado (the Dockerfile tells users to set XILINX_VIVADO)."""
import fnmatch
import re
import stat
import subprocess
from pathlib import Path

import pytest

from xnorflow.hw.vivado import vivado_executable

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`

ROOT = Path(__file__).parents[1]
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule for a context path: the last matching pattern (of it or a parent folder) decides."""
    parts = path.split("/")
    verdict = False
    for pattern in patterns:
        keep, pattern = pattern.startswith("!"), pattern.lstrip("!").strip("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.removeprefix("**/")) for p in prefixes):
            verdict = not keep
    return verdict


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("path", [".venv/bin/python", ".venv/.xnorflow-installed", "runs/demo/train/model.pt",
                                  "build/tiny-bireal-Pynq-Z2/report.json", "xnorflow/__pycache__/cli.cpython-311.pyc"])
def test_context_leaves_out_host_builds(path: str) -> None:
    assert _ignored(path, _dockerignore())


@pytest.mark.parametrize("path", ["Makefile", "requirements.lock", "pyproject.toml", "xnorflow/cli.py",
                                  "hw/rtl/dot_xnor.sv", "tests/build_flows/data/near_tie_tiny_bireal.pt"])
def test_context_keeps_the_sources(path: str) -> None:
    assert not _ignored(path, _dockerignore())


def _setup_install_line(*make_args: str) -> str:
    """The `pip install ... -r requirements.lock` line `make setup` would run (dry run)."""
    dry = subprocess.run(["make", "-n", "-B", "setup", *make_args], cwd=ROOT, capture_output=True, text=True, check=True)
    return next(line for line in dry.stdout.splitlines() if "-r requirements.lock" in line)


def _dockerfile_torch() -> tuple[str, str]:
    """The Dockerfile's default TORCH build argument and its `make setup` line."""
    text = (ROOT / "Dockerfile").read_text()
    default = re.search(r"^ARG TORCH=(\S*)$", text, re.M).group(1)
    setup = re.search(r"^RUN (make setup .*)$", text, re.M).group(1)
    return default, setup


def test_image_installs_cpu_torch_by_default() -> None:
    default, setup = _dockerfile_torch()
    assert default == "cpu" and "TORCH=$TORCH" in setup.split()
    assert CPU_INDEX in _setup_install_line(f"TORCH={default}")


def test_cuda_build_arg_selects_cuda_wheels() -> None:
    assert "--extra-index-url https://download.pytorch.org/whl/cu128" in _setup_install_line("TORCH=cu128")
    assert "extra-index-url" not in _setup_install_line("TORCH=")  # PyPI's torch: the CUDA build on x86_64 Linux


def test_plain_make_setup_is_unchanged() -> None:
    """Outside Docker, `make setup` lets pip pick torch as before (no extra index)."""
    assert "extra-index-url" not in _setup_install_line()


def test_vivado_found_through_xilinx_vivado(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tmp_path / "bin" / "vivado"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("XILINX_VIVADO", str(tmp_path))
    assert vivado_executable() == str(exe)
    monkeypatch.delenv("XILINX_VIVADO")
    assert vivado_executable() is None
