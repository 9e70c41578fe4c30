"""ChannelwiseLUT (ReActNet's RPReLU as a per-channel table) in RTL vs its python execution,
bit for bit over random tables, types and foldings, with gaps and stalls; lint and Yosys."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType as DT
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.util.basic import qonnx_make_model

from finn_dataflow_nodes import random_tensor
from xnorflow.errors import XnorflowError
from xnorflow.hw.ops import DOMAIN, layer_rtl, module_sources
from xnorflow.hw.ops.common import run_frames
from xnorflow.hw.synth import synthesize
from xnorflow.hw.verilator import Design, lint


def lut_model(rng: np.random.Generator, vecs: list[int], ch: int, pe: int, idt, odt) -> ModelWrapper:
    """One ChannelwiseLUT node with a random table over idt's range, values in odt."""
    entries = int(idt.max() - idt.min()) + 1
    table = random_tensor(rng, odt, (ch, entries))
    shape = [*vecs, ch]
    node = helper.make_node("ChannelwiseLUT", ["in0", "table"], ["out0"], domain=DOMAIN,
                            backend="fpgadataflow", name="ChannelwiseLUT_0", NumChannels=ch, PE=pe,
                            inputDataType=idt.name, outputDataType=odt.name, numInputVectors=vecs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("in0", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("out0", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("table", table)
    model.set_tensor_datatype("in0", idt)
    model.set_tensor_datatype("out0", odt)
    return model


CASES = {
    "int8_to_int8_pe4": ([1, 3, 3], 8, 4, DT["INT8"], DT["INT8"]),
    "int4_to_uint3_pe1": ([1, 2, 2], 6, 1, DT["INT4"], DT["UINT3"]),
    "uint2_to_int5_full": ([1, 4], 4, 4, DT["UINT2"], DT["INT5"]),
    "bipolar_to_int4": ([1, 2, 3], 6, 3, DT["BIPOLAR"], DT["INT4"]),
}


@pytest.mark.parametrize("case", CASES)
def test_matches_python_execution(rng, case):
    """Three frames back to back, at full rate and with gaps/stalls: equal to execute_onnx."""
    vecs, ch, pe, idt, odt = CASES[case]
    model = lut_model(rng, vecs, ch, pe, idt, odt)
    rtl = layer_rtl(model, model.graph.node[0])
    frames = [[random_tensor(rng, idt, (*vecs, ch))] for _ in range(3)]
    refs = [execute_onnx(model, {"in0": f[0]})["out0"] for f in frames]
    for kwargs in ({}, {"seed": 3, "in_gap": 0.3, "out_stall": 0.3}):
        (ys,), res = run_frames(rtl, frames, **kwargs)
        for y, ref in zip(ys, refs):
            np.testing.assert_array_equal(y, ref)
    words = 3 * int(np.prod(vecs)) * ch // pe
    assert res.cycles > words


def test_full_rate(rng):
    """One word per cycle: the layer never stalls its input."""
    model = lut_model(rng, [1, 8, 8], 16, 4, DT["INT8"], DT["INT8"])
    rtl = layer_rtl(model, model.graph.node[0])
    frames = [[random_tensor(rng, DT["INT8"], (1, 8, 8, 16))] for _ in range(2)]
    _, res = run_frames(rtl, frames)
    assert res.cycles <= 2 * 8 * 8 * 16 // 4 + 8


def test_bad_pe_refused(rng):
    """A PE that does not divide the channels names the layer."""
    model = lut_model(rng, [1, 2], 6, 4, DT["INT4"], DT["INT4"])
    with pytest.raises(XnorflowError, match="ChannelwiseLUT_0.*PE=4"):
        layer_rtl(model, model.graph.node[0])


@pytest.mark.parametrize("params", [{}, {"C": 3, "PE": 1, "IBITS": 1, "OBITS": 1}, {"C": 6, "PE": 2}])
def test_lint_clean(params):
    """verilator -Wall has nothing to say at the corners."""
    lint(Design("channelwise_lut", module_sources("channelwise_lut"), (), (), params))


def test_synthesizes(rng):
    """Yosys maps it for xc7 (tables in LUT ROM or BRAM)."""
    model = lut_model(rng, [1, 2, 2], 16, 4, DT["INT8"], DT["INT8"])
    rtl = layer_rtl(model, model.graph.node[0])
    res = synthesize(rtl.design.top, rtl.design.sources, rtl.design.params, rtl.mem_files)
    assert res["lut"] + res["ramb18"] + res["ramb36"] > 0
