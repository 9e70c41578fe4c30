"""build_flows/piecewise_requantize.py: ChannelwiseLUT tables of PReLU-like chains (two affine pieces, slopes of
either sign, per-channel knees) -> one two-piece Requantize, equal to the table on every source code (checked
here by executing the new node on every code); tables that are not two affine floors keep their ChannelwiseLUT."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType as DT
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from xnorflow.build_flows.piecewise_requantize import TablesToPiecewiseRequantizers
from xnorflow.hw.ops import DOMAIN

pytestmark = pytest.mark.fast


def lut_model(table: np.ndarray, idt, odt) -> ModelWrapper:
    """One ChannelwiseLUT node on a (1, codes, C) stream of `idt` holding `table` (C, codes)."""
    ch, codes = table.shape
    shape = [1, codes, ch]
    node = helper.make_node("ChannelwiseLUT", ["in0", "table"], ["out0"], domain=DOMAIN, backend="fpgadataflow",
                            name="ChannelwiseLUT_0", NumChannels=ch, inputDataType=idt.name,
                            outputDataType=odt.name, numInputVectors=shape[:-1])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("in0", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("out0", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("table", table.astype(np.float32))
    model.set_tensor_datatype("in0", idt)
    model.set_tensor_datatype("out0", odt)
    return model


def every_code(idt, ch: int) -> np.ndarray:
    """(1, codes, C): every value of `idt` in every channel."""
    return np.repeat(np.arange(int(idt.min()), int(idt.max()) + 1, dtype=np.float32)[:, None], ch, 1)[None]


def rprelu_table(rng: np.random.Generator, idt, ch: int, in_scale: float) -> np.ndarray:
    """RPReLU (ReActNet Eq. 3: x - gamma, PReLU slope beta of either sign, + zeta) on `idt` codes times `in_scale`,
    onto the INT8 grid of step 1/32 half up, in float32 like the streamlined graph."""
    f32 = np.float32
    x = every_code(idt, ch)[0] * f32(in_scale)
    gamma, zeta = (rng.normal(0, 0.5, ch).astype(f32) for _ in range(2))
    beta = rng.normal(0, 0.8, ch).astype(f32)
    beta[0] = f32(-0.75)                             # a decreasing piece
    u = x - gamma
    y = np.where(u < 0, u * beta, u) + zeta
    return np.clip(np.floor(y * f32(32) + f32(0.5)), -128, 127).T


@pytest.mark.parametrize("idt, in_scale", [("INT8", 1 / 64), ("UINT7", 1 / 40), ("INT4", 0.1), ("INT10", 1 / 256)])
def test_rprelu_table_becomes_exact_two_piece_requantizer(rng, idt, in_scale):
    """Per-channel knees, slopes of either sign, on 8-bit, popcount, 4- and 10-bit sources: a Requantize of
    Pieces=2 with the table's output type and ActVal, equal to the table on every code of every channel."""
    idt, odt = DT[idt], DT["INT8"]
    table = rprelu_table(rng, idt, 24, in_scale)
    model = lut_model(table, idt, odt).transform(TablesToPiecewiseRequantizers())
    node = model.graph.node[0]
    assert node.op_type == "Requantize"
    inst = getCustomOp(node)
    assert (inst.get_nodeattr("Pieces"), inst.get_nodeattr("ActVal"), inst.get_output_datatype()) == (2, -128, odt)
    assert (model.get_initializer(node.input[1])[:, [0, 2]] < 0).any()
    y = execute_onnx(model, {"in0": every_code(idt, 24)})["out0"][0]
    np.testing.assert_array_equal(y.T, table)


def test_three_piece_table_stays(rng):
    """A channel of three affine pieces (a clipped ramp with a dip) keeps the whole layer's table."""
    idt, odt = DT["INT8"], DT["INT8"]
    table = rprelu_table(rng, idt, 8, 1 / 64)
    x = np.arange(-128, 128)
    table[3] = np.clip(np.abs(x) // 2 - np.maximum(x - 60, 0) * 3, -128, 127)
    model = lut_model(table, idt, odt).transform(TablesToPiecewiseRequantizers())
    assert [n.op_type for n in model.graph.node] == ["ChannelwiseLUT"]
    np.testing.assert_array_equal(model.get_initializer("table"), table)


def test_non_affine_table_stays(rng):
    """A monotonic but not piecewise-affine table (a square) stays a ChannelwiseLUT."""
    idt, odt = DT["UINT4"], DT["UINT8"]
    table = np.repeat((np.arange(16) ** 2)[None], 4, 0)
    model = lut_model(table, idt, odt).transform(TablesToPiecewiseRequantizers())
    assert [n.op_type for n in model.graph.node] == ["ChannelwiseLUT"]


def test_sign_table_stays():
    """A decreasing step onto one bit (BN -> sign with a negative scale) keeps its small table: no multiplier."""
    table = np.repeat((np.arange(128) < 40)[None].astype(np.float32), 4, 0)
    model = lut_model(table, DT["UINT7"], DT["BINARY"]).transform(TablesToPiecewiseRequantizers())
    assert [n.op_type for n in model.graph.node] == ["ChannelwiseLUT"]
