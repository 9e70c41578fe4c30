"""ChannelGateMul (Real-to-Binary's gate product) in RTL vs its python execution, bit for bit over random
types, shapes and foldings, several frames back to back, with gaps and stalls; lint."""
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


def gate_model(vecs: list[int], ch: int, pe: int, xdt, gdt, odt) -> ModelWrapper:
    """One ChannelGateMul node: stream [*vecs, ch] times gate [1, ch]."""
    shape = [*vecs, ch]
    node = helper.make_node("ChannelGateMul", ["in0", "gate"], ["out0"], domain=DOMAIN, backend="fpgadataflow",
                            name="ChannelGateMul_0", NumChannels=ch, PE=pe, inputDataType=xdt.name,
                            gateDataType=gdt.name, outputDataType=odt.name, numInputVectors=vecs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("in0", TensorProto.FLOAT, shape),
                                            helper.make_tensor_value_info("gate", TensorProto.FLOAT, [1, ch])],
                              [helper.make_tensor_value_info("out0", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    for name, dt in (("in0", xdt), ("gate", gdt), ("out0", odt)):
        model.set_tensor_datatype(name, dt)
    return model


CASES = {
    "int8_uint8_pe4": ([1, 3, 3], 8, 4, DT["INT8"], DT["UINT8"], DT["INT16"]),
    "int4_uint3_pe1": ([1, 2, 2], 6, 1, DT["INT4"], DT["UINT3"], DT["INT8"]),
    "uint2_uint8_full": ([1, 4, 1], 4, 4, DT["UINT2"], DT["UINT8"], DT["INT11"]),
    "int8_uint8_one_pixel": ([1, 1, 1], 6, 2, DT["INT8"], DT["UINT8"], DT["INT16"]),
}


@pytest.mark.parametrize("case", CASES)
def test_matches_python_execution(rng, case):
    """Three frames back to back, at full rate and with gaps/stalls: equal to execute_onnx."""
    vecs, ch, pe, xdt, gdt, odt = CASES[case]
    model = gate_model(vecs, ch, pe, xdt, gdt, odt)
    rtl = layer_rtl(model, model.graph.node[0])
    frames = [[random_tensor(rng, xdt, (*vecs, ch)), random_tensor(rng, gdt, (1, ch))] for _ in range(3)]
    refs = [execute_onnx(model, {"in0": x, "gate": g})["out0"] for x, g in frames]
    for kwargs in ({}, {"seed": 3, "in_gap": 0.3, "out_stall": 0.3}):
        (ys,), _ = run_frames(rtl, frames, **kwargs)
        for y, ref in zip(ys, refs):
            np.testing.assert_array_equal(y, ref)


def test_narrow_output_refused():
    """An output type too narrow for the product names the layer."""
    model = gate_model([1, 2, 2], 4, 2, DT["INT8"], DT["UINT8"], DT["INT8"])
    with pytest.raises(XnorflowError, match="ChannelGateMul_0.*INT8 cannot hold"):
        layer_rtl(model, model.graph.node[0])


@pytest.mark.parametrize("params", [{}, {"C": 3, "PE": 3, "PIXELS": 1, "IBITS": 1, "IKIND": 2, "GBITS": 1},
                                    {"C": 6, "PE": 2, "PIXELS": 5, "OBITS": 20}])
def test_lint_clean(params):
    """verilator -Wall has nothing to say at the corners."""
    lint(Design("channel_gate_mul", module_sources("channel_gate_mul"), (), (), params))


def test_synthesizes():
    """Yosys maps it for xc7 (gate vector in LUTs/FFs, products in LUTs or DSPs)."""
    model = gate_model([1, 2, 2], 16, 4, DT["INT8"], DT["UINT8"], DT["INT16"])
    rtl = layer_rtl(model, model.graph.node[0])
    res = synthesize(rtl.design.top, rtl.design.sources, rtl.design.params, rtl.mem_files)
    assert res["lut"] + res["dsp"] > 0
