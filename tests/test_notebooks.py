"""The notebooks, executed on a deploy folder through the Verilator backend: they print what the accelerator computes."""
import json
import os
import re
from pathlib import Path
from unittest.mock import patch

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from xnorflow.cli import main
from xnorflow.hw import driver, vivado

CKPT = Path(__file__).parent / "build_flows" / "data" / "near_tie_tiny_bireal.pt"  # the demo's tiny-bireal on digits
FOLDING = "4000"  # the demo's folding: a few thousand cycles per frame


@pytest.fixture(scope="module")
def deploy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make bitfile` of the trained tiny-bireal where Vivado is missing: the build stops at Vivado in one line, and
    its deploy folder (driver, runtime.json, notebooks, digits test set; no bitfile) is written beside the RTL."""
    out = tmp_path_factory.mktemp("notebooks") / "build"
    with patch.object(vivado, "vivado_executable", return_value=None):
        assert main(["build", "--model", str(CKPT), "--target", "bitfile", "--folding", FOLDING,
                     "--out", str(out)]) == 2
    runtime = json.loads((out / "deploy" / "runtime.json").read_text())
    assert runtime["bitfile"] is None and "testset.npz" in runtime["files"]
    return out / "deploy"


def executed(deploy: Path, name: str) -> str:
    """Run the deploy folder's copy of notebook `name` as a board would (from its notebooks/); its text output."""
    path = deploy / "notebooks" / name
    book = nbformat.read(path, as_version=4)
    with patch.dict(os.environ, {"XNORFLOW_DEPLOY": str(deploy)}):
        NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                       ).execute()
    outputs = [out for cell in book.cells if cell.cell_type == "code" for out in cell.outputs]
    assert sum("image/png" in out.get("data", {}) for out in outputs) >= 1  # the figure was drawn
    return "".join(out.get("text", "") for out in outputs)


def test_quickstart_prints_the_accelerators_accuracy_and_frames_per_second(deploy):
    text = executed(deploy, "quickstart.ipynb")
    test = np.load(deploy / "testset.npz")
    with driver.open(deploy, backend="verilator") as acc:
        expected = float(np.mean(acc.classify(test["images"]) == test["labels"]))
        bound = acc.runtime["cycles_per_frame"]
    assert "256 test images of shape (1, 8, 8) from digits" in text
    assert f"accuracy {expected:.4f} on 256 images" in text and expected > 0.8
    found = re.search(r"([\d,]+) frames/s at 100 MHz \(([\d.]+) cycles/frame\), latency ([\d.]+) us", text)
    assert found, text
    assert bound <= float(found[2]) < 1.1 * bound  # the shell keeps the core at its analytical bound


def test_throughput_study_tabulates_every_batch(deploy):
    text = executed(deploy, "throughput_latency.ipynb")
    rows = re.findall(r"^\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d,]+)\s+([\d.]+)$", text, re.M)
    assert [int(r[0]) for r in rows] == [1, 2, 4, 8, 16, 32, 64]
    per_frame = [float(r[2]) for r in rows]
    assert per_frame == sorted(per_frame, reverse=True)  # the pipeline fills: cycles per frame only fall
    bound = json.loads((deploy / "runtime.json").read_text())["cycles_per_frame"]
    assert f"analytical bound: {bound} cycles/frame" in text and per_frame[-1] < 1.1 * bound
    assert "host_pack_s" in text and "transfer_and_run_wall_s" in text
