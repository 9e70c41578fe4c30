"""The HW op registry: one module per op, no import cycles in hw/, one folding check and message."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType as DT
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

import xnorflow.hw
from finn_nodes import thresholding_model
from xnorflow.errors import XnorflowError
from xnorflow.hw.folding import check_folding
from xnorflow.hw.ops import OPS, layer_rtl, module_sources
from xnorflow.hw.ops.channelwise_lut import ChannelwiseLUT
from xnorflow.hw.shell import SHELL_MODULES
from xnorflow.hw.verilator import RTL_DIR

HW = Path(xnorflow.hw.__file__).parent


def _module_name(path: Path) -> str:
    """xnorflow.hw.<...> of a file in hw/."""
    return ".".join(("xnorflow.hw", *path.relative_to(HW).with_suffix("").parts)).removesuffix(".__init__")


def _hw_imports(path: Path) -> tuple[set[str], list[int]]:
    """xnorflow.hw modules a file imports at module level, and the lines of imports inside functions."""
    tree = ast.parse(path.read_text())
    top, nested = set(), []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            hw = {n for n in names if n.startswith("xnorflow.hw")}
            if node in tree.body:
                top |= hw
            elif hw:
                nested.append(node.lineno)
    return top, nested


# Copied alone into deploy folders, where a board has numpy and pynq but no xnorflow: it imports the build
# description (deploy) and the simulator (shell_sim) only when a build directory or the Verilator backend is asked for.
STANDALONE = {"driver.py"}


def test_hw_has_no_import_cycles_and_no_lazy_imports():
    """The module import graph of xnorflow.hw is acyclic, every import at module level and of a module there is
    (except the standalone driver's two)."""
    files = {_module_name(p): p for p in HW.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        top, nested = _hw_imports(path)
        expected = 2 if path.name in STANDALONE else 0
        assert len(nested) == expected, f"{path.name}: imports inside functions at lines {nested}"
        assert top <= set(files), f"{path.name} imports modules hw/ does not have: {sorted(top - set(files))}"
        graph[name] = {m for m in top if m in files and m != name}
    done: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        assert name not in stack, f"import cycle: {' -> '.join(stack + (name,))}"
        if name not in done:
            for dep in graph[name]:
                visit(dep, stack + (name,))
            done.add(name)
    for name in graph:
        visit(name, ())


def test_every_op_names_existing_rtl():
    """Each op's modules exist in hw/rtl, and every .sv there belongs to an op, the stitcher or the shell."""
    used = {p.name for op in OPS.values() for top in op.modules for p in module_sources(top)}
    used |= {p.name for p in module_sources("stream_fifo")} | set(SHELL_MODULES)
    assert all((RTL_DIR / f).exists() for f in used)
    assert {p.name for p in RTL_DIR.glob("*.sv")} == used


def test_old_domain_still_resolves():
    """Graphs written when the custom ops lived in build_flows still open."""
    node = helper.make_node("ChannelwiseLUT", ["x", "t"], ["y"], domain="xnorflow.build_flows.custom_op",
                            backend="fpgadataflow", NumChannels=2, inputDataType="INT2", outputDataType="INT2")
    assert isinstance(getCustomOp(node), ChannelwiseLUT)


def test_folding_check_is_one_check_with_one_message():
    """check_folding and the RTL builder refuse a bad PE with the same one-line message and fix."""
    thr = np.sort(np.random.default_rng(0).integers(-8, 8, size=(6, 3)), axis=1).astype(np.float32)
    model = thresholding_model(6, 4, DT["INT4"], DT["UINT2"], thr, DT["INT32"], [1, 2, 2], 0)
    messages = []
    for check in (check_folding, lambda m: layer_rtl(m, m.graph.node[0])):
        with pytest.raises(XnorflowError) as err:
            check(model)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "PE=4 does not divide NumChannels=6" in messages[0] and "use PE=3" in messages[0]
    assert "\n" not in messages[0]


def test_unknown_hw_op_is_named():
    """A HW node no op maps fails in one line naming the node and the ops there are."""
    node = helper.make_node("VectorVectorActivation", ["x"], ["y"], domain="finn.custom_op.fpgadataflow",
                            backend="fpgadataflow", name="VVAU_0")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = ModelWrapper(qonnx_make_model(graph))
    with pytest.raises(XnorflowError, match="no xnorflow RTL for VectorVectorActivation node VVAU_0.*MVAU"):
        layer_rtl(model, node)
