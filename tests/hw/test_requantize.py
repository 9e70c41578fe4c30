"""Requantize (clamp((m k + c) >> s, 0, N) + ActVal per channel) in RTL vs its python execution, bit for bit over
random widths, multipliers, offsets and shifts, with inputs on the clamp edges, at full rate and with gaps and
stalls; the same for its two-piece form (Pieces=2: random breakpoints, negative slopes); the python execution
against the formula; lint; Yosys's DSP48 count against the op's model."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType as DT
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from xnorflow.errors import XnorflowError
from xnorflow.hw.ops import DOMAIN, OPS, layer_rtl, module_sources
from xnorflow.hw.ops.common import run_frames
from xnorflow.hw.streams import random_tensor
from xnorflow.hw.synth import synthesize
from xnorflow.hw.verilator import Design, lint


def requant_model(vecs: list[int], ch: int, pe: int, idt, odt, m: np.ndarray, c: np.ndarray, shift: int,
                  levels: int, actval: int, clamp: tuple[int, int], second: tuple | None = None) -> ModelWrapper:
    """One Requantize node with constants (m, c) per channel; with `second` = (m1, c1, t), its two-piece form."""
    shape = [*vecs, ch]
    node = helper.make_node("Requantize", ["in0", "params"], ["out0"], domain=DOMAIN, backend="fpgadataflow",
                            name="Requantize_0", NumChannels=ch, PE=pe, inputDataType=idt.name,
                            outputDataType=odt.name, numInputVectors=vecs, Shift=shift, Levels=levels,
                            InputMin=clamp[0], InputMax=clamp[1], ActVal=actval, Pieces=1 if second is None else 2)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("in0", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("out0", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("params", np.stack([m, c, *(second or ())], axis=1).astype(np.int64))
    model.set_tensor_datatype("in0", idt)
    model.set_tensor_datatype("out0", odt)
    return model


# (vectors, channels, PE, input type, input clamp (None: the type's range), m bits, shift, output type, ActVal)
CASES = {
    "int8_to_int8_pe4": ([1, 3, 3], 8, 4, "INT8", None, 6, 4, "INT8", -128),
    "popcount_uint7_dsp": ([2, 2], 8, 2, "UINT7", None, 13, 11, "INT8", -128),
    "int24_clamped_pe1": ([5], 3, 1, "INT24", (-128, 127), 1, 0, "UINT4", 0),
    "int24_two_dsps": ([1, 4], 6, 3, "INT24", (-4000000, 3000000), 20, 20, "INT4", -8),
    "uint2_shift0_full": ([1, 4], 4, 4, "UINT2", None, 3, 0, "UINT3", 0),
}


def random_case(rng: np.random.Generator, case: str) -> tuple[ModelWrapper, tuple]:
    """A random requantiser for `case` whose outputs span past both clamp ends on the input range."""
    return random_requantizer(rng, *CASES[case])


def random_requantizer(rng: np.random.Generator, vecs: list[int], ch: int, pe: int, idt: str,
                       clamp: tuple[int, int] | None, mbits: int, shift: int, odt: str,
                       actval: int) -> tuple[ModelWrapper, tuple]:
    """A random requantiser of the given shape (a CASES row) whose outputs span past both clamp ends."""
    idt, odt = DT[idt], DT[odt]
    lo, hi = clamp or (int(idt.min()), int(idt.max()))
    levels = int(odt.max() - odt.min())
    m = rng.integers(2 ** (mbits - 1), 2 ** mbits, ch, dtype=np.int64)
    m[0] = 2 ** mbits - 1                                   # the widest multiplier
    c = rng.integers(-m * hi, (levels << shift) - m * lo + 1, dtype=np.int64)
    return requant_model(vecs, ch, pe, idt, odt, m, c, shift, levels, actval, (lo, hi)), (vecs, ch, idt, odt, lo, hi)


# (vectors, channels, PE, input type, m bits (signed), shift, output type, ActVal): two pieces, clamp = the type
PIECEWISE = {
    "int8_rprelu_pe4": ([1, 3, 3], 8, 4, "INT8", 6, 4, "INT8", -128),
    "popcount_uint7_pe2": ([2, 2], 8, 2, "UINT7", 10, 7, "INT8", -128),
    "uint2_shift0_full": ([1, 4], 4, 4, "UINT2", 3, 0, "UINT3", 0),
    "int10_dsp_pe1": ([3], 5, 1, "INT10", 14, 12, "UINT8", 0),
}


def random_piecewise(rng: np.random.Generator, vecs: list[int], ch: int, pe: int, idt: str, mbits: int,
                     shift: int, odt: str, actval: int) -> tuple[ModelWrapper, tuple]:
    """A random two-piece requantiser (slopes of either sign, breakpoints anywhere in the input range, the second
    piece passing near the first at t) whose outputs span past both clamp ends."""
    idt, odt = DT[idt], DT[odt]
    lo, hi = int(idt.min()), int(idt.max())
    levels = int(odt.max() - odt.min())
    m0, m1 = (rng.integers(-2 ** (mbits - 1), 2 ** (mbits - 1), ch, dtype=np.int64) for _ in range(2))
    m0[0], m1[0] = -2 ** (mbits - 1), 2 ** (mbits - 1) - 1          # the widest multipliers
    t = rng.integers(lo, hi + 1, ch, dtype=np.int64)
    t[1 % ch], t[2 % ch] = lo, hi                                   # breakpoints at both ends
    c0 = rng.integers(0, (levels << shift) + 1, ch, dtype=np.int64) - m0 * t
    c1 = m0 * t + c0 - m1 * t + rng.integers(-(1 << shift), 1 << shift, ch, dtype=np.int64)
    model = requant_model(vecs, ch, pe, idt, odt, m0, c0, shift, levels, actval, (lo, hi), (m1, c1, t))
    return model, (vecs, ch, idt, odt, lo, hi)


def edge_frame(rng: np.random.Generator, shape: tuple, idt, lo: int, hi: int) -> np.ndarray:
    """Random inputs of `idt`, the first ones on the clamp edges and the type's ends."""
    x = random_tensor(rng, idt, shape).reshape(-1)
    edges = [v for v in (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, idt.min(), idt.max()) if idt.min() <= v <= idt.max()]
    x[: len(edges)] = edges[: x.size]
    return x.reshape(shape)


@pytest.mark.parametrize("case", CASES)
def test_matches_python_execution(rng, case):
    """Three frames back to back, at full rate and with gaps/stalls: equal to execute_onnx."""
    model, (vecs, ch, idt, odt, lo, hi) = random_case(rng, case)
    rtl = layer_rtl(model, model.graph.node[0])
    frames = [[edge_frame(rng, (*vecs, ch), idt, lo, hi)] for _ in range(3)]
    refs = [execute_onnx(model, {"in0": f[0]})["out0"] for f in frames]
    assert (np.array(refs) == odt.min()).any() and (np.array(refs) == odt.max()).any()   # both clamps hit
    for kwargs in ({}, {"seed": 3, "in_gap": 0.3, "out_stall": 0.3}):
        (ys,), _ = run_frames(rtl, frames, **kwargs)
        for y, ref in zip(ys, refs):
            np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("case", PIECEWISE)
def test_piecewise_matches_python_execution(rng, case):
    """Two pieces: three frames with every breakpoint's both sides, at full rate and with gaps/stalls: equal to
    execute_onnx, both clamps hit."""
    model, (vecs, ch, idt, odt, lo, hi) = random_piecewise(rng, *PIECEWISE[case])
    t = model.get_initializer("params")[:, 4]
    rtl = layer_rtl(model, model.graph.node[0])
    frames = [[edge_frame(rng, (*vecs, ch), idt, lo, hi)] for _ in range(3)]
    frames[1][0].reshape(-1, ch)[:2] = [np.maximum(t - 1, lo), t]    # both sides of every breakpoint
    refs = [execute_onnx(model, {"in0": f[0]})["out0"] for f in frames]
    assert (np.array(refs) == odt.min()).any() and (np.array(refs) == odt.max()).any()
    for kwargs in ({}, {"seed": 5, "in_gap": 0.3, "out_stall": 0.3}):
        (ys,), _ = run_frames(rtl, frames, **kwargs)
        for y, ref in zip(ys, refs):
            np.testing.assert_array_equal(y, ref)


def test_piecewise_python_execution_is_the_formula(rng):
    """Pieces=2: execute_onnx is clamp(floor(((k < t ? m0 : m1) k + (k < t ? c0 : c1)) / 2^s), 0, N) + ActVal, in
    Python integers on every input code."""
    model, (_, ch, idt, _, lo, hi) = random_piecewise(rng, *PIECEWISE["int10_dsp_pe1"])
    x = np.repeat(np.arange(lo, hi + 1, dtype=np.float32)[:, None], ch, axis=1).reshape(1, -1, ch)
    model.set_tensor_shape("in0", list(x.shape))
    model.set_tensor_shape("out0", list(x.shape))
    getCustomOp(model.graph.node[0]).set_nodeattr("numInputVectors", list(x.shape[:-1]))
    y = execute_onnx(model, {"in0": x})["out0"].reshape(-1, ch)
    params = model.get_initializer("params")
    for k in range(lo, hi + 1):
        for i in range(ch):
            m0, c0, m1, c1, t = (int(v) for v in params[i])
            m, c = (m0, c0) if k < t else (m1, c1)
            assert y[k - lo, i] == min(max((m * k + c) // 2 ** 12, 0), 255)


def test_piecewise_breakpoint_outside_refused(rng):
    """A breakpoint outside the input clamp names the layer."""
    model, _ = random_piecewise(rng, *PIECEWISE["uint2_shift0_full"])
    params = model.get_initializer("params").copy()
    params[0, 4] = 4
    model.set_initializer("params", params)
    with pytest.raises(XnorflowError, match="Requantize_0.*breakpoint"):
        layer_rtl(model, model.graph.node[0])


def test_python_execution_is_the_formula(rng):
    """execute_onnx is clamp(floor((m clip(k) + c) / 2^s), 0, N) + ActVal, computed here in Python integers."""
    model, (vecs, ch, idt, _, lo, hi) = random_case(rng, "int24_two_dsps")
    x = edge_frame(rng, (*vecs, ch), idt, lo, hi)
    y = execute_onnx(model, {"in0": x})["out0"]
    params = model.get_initializer("params")
    for k, got in zip(x.reshape(-1, ch), y.reshape(-1, ch)):
        for i in range(ch):
            m, c = int(params[i, 0]), int(params[i, 1])
            level = min(max((m * min(max(int(k[i]), lo), hi) + c) // 2 ** 20, 0), 15)
            assert got[i] == level - 8


def test_negative_multiplier_refused(rng):
    """Constants with a negative m name the layer."""
    model, _ = random_case(rng, "uint2_shift0_full")
    params = model.get_initializer("params").copy()
    params[1, 0] = -1
    model.set_initializer("params", params)
    with pytest.raises(XnorflowError, match="Requantize_0.*m >= 0"):
        layer_rtl(model, model.graph.node[0])


@pytest.mark.parametrize("params", [{}, {"C": 3, "PE": 1, "IBITS": 1, "IKIND": 0, "KBITS": 2, "KLO": 0, "KHI": 1,
                                        "MBITS": 1, "CBITS": 2, "SHIFT": 0, "LEVELS": 1, "OBITS": 1},
                                    {"C": 6, "PE": 2, "IBITS": 32, "KBITS": 9, "KLO": -200, "KHI": 200},
                                    {"PIECES": 2}, {"C": 6, "PE": 2, "IBITS": 7, "IKIND": 0, "KBITS": 8, "KLO": 0,
                                                    "KHI": 127, "MBITS": 2, "PIECES": 2}])
def test_lint_clean(params):
    """verilator -Wall has nothing to say at the corners."""
    lint(Design("requantize", module_sources("requantize"), (), (), params))


@pytest.mark.parametrize("case", ["popcount_uint7_dsp", "int24_clamped_pe1", "uint2_shift0_full", "int24_two_dsps"])
def test_synthesizes_with_modelled_dsps(rng, case):
    """Yosys (synth_xilinx) maps each lane's multiply to as many DSP48s as the op models: one for a 9-bit or
    wider product up to 25 x 18 bits, two beyond, none below 9 bits."""
    model, _ = random_case(rng, case)
    node = model.graph.node[0]
    rtl = layer_rtl(model, node)
    res = synthesize(rtl.design.top, rtl.design.sources, rtl.design.params, rtl.mem_files)
    assert res["dsp"] == OPS["Requantize"].dsps(model, node)
    assert res["lut"] > 0


@pytest.mark.parametrize("case", ["int10_dsp_pe1", "uint2_shift0_full"])
def test_piecewise_synthesizes_with_modelled_dsps(rng, case):
    """Two pieces: the selected m's multiply maps to as many DSP48s as the op models (one for the 10 x 15-bit
    product, none for the 3 x 4-bit one)."""
    model, _ = random_piecewise(rng, *PIECEWISE[case])
    node = model.graph.node[0]
    rtl = layer_rtl(model, node)
    res = synthesize(rtl.design.top, rtl.design.sources, rtl.design.params, rtl.mem_files)
    assert res["dsp"] == OPS["Requantize"].dsps(model, node)
    assert res["lut"] > 0
