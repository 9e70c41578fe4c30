"""`xnorflow sim BUILD --layer NAME`: one layer of a real build alone in Verilator, bit-exact against FINN."""
from __future__ import annotations

from pathlib import Path

import pytest
from qonnx.custom_op.registry import getCustomOp

from xnorflow.cli import main
from xnorflow.errors import XnorflowError
from xnorflow.hw.accelerator import build_target
from xnorflow.hw.build import open_build
from xnorflow.hw.layer_sim import simulate_layer
from xnorflow.hw.ops import hw_nodes


@pytest.fixture(scope="module")
def rtl_dir(tmp_path_factory, tiny_graph) -> Path:
    """tiny-bireal through the rtl target (folded graph, no whole-design simulation)."""
    build = tiny_graph("tiny-bireal", tmp_path_factory.mktemp("layer-sim") / "tiny-bireal")
    build_target(build, "rtl", "Pynq-Z2", "6000")
    return build


def _first(build: Path, op: str, multi_stream: bool = False) -> str:
    """Name of the first HW layer of op type `op` (optionally with several output streams)."""
    model = open_build(build).folded()
    return next(n.name for n in hw_nodes(model) if n.op_type.startswith(op)
                and (not multi_stream or len(n.output) > 1) and (op != "MVAU" or
                                                                 getCustomOp(n).get_nodeattr("binaryXnorMode")))


@pytest.mark.parametrize("op", ["MVAU", "DuplicateStreams"])
def test_layer_alone_bit_exact(rtl_dir, op):
    """An XNOR MVAU and a stream fork of the build match FINN at full rate and with gaps/stalls."""
    name = _first(rtl_dir, op)
    rep = simulate_layer(rtl_dir, name, frames=3)
    assert rep["bit_exact"] and rep["layer"] == name and rep["frames"] == 3
    assert rep["cycles_with_gaps"] > rep["cycles"]


def test_cli_layer(rtl_dir, capsys):
    """The CLI prints one line per layer run."""
    name = _first(rtl_dir, "MVAU")
    assert main(["sim", str(rtl_dir), "--layer", name, "--frames", "2"]) == 0
    assert f"layer {name}" in capsys.readouterr().out


def test_unknown_layer_lists_layers(rtl_dir):
    """A wrong name is one line naming the layers there are."""
    with pytest.raises(XnorflowError, match="no HW layer 'nope'.*use one of: .*MVAU"):
        simulate_layer(rtl_dir, "nope")


def test_layer_without_rtl(tmp_path):
    """A build without the rtl target is refused with the command to run."""
    with pytest.raises(XnorflowError, match="has no RTL.*--target rtl"):
        simulate_layer(tmp_path, "MVAU_0")
