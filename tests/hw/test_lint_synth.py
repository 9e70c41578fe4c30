"""Every module lints clean under `verilator -Wall` at its parameter corners and synthesises
with Yosys synth_xilinx (xc7) through read_slang."""
from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType as DT

from finn_nodes import mvau_model, thresholding_model
from xnorflow.hw.ops import layer_rtl, module_sources
from xnorflow.hw.ops.mvau import MVAUOp
from xnorflow.hw.synth import synthesize
from xnorflow.hw.verilator import Design, lint

CORNERS = {
    "xnor_mvu": [{}, {"NTHRES": 0, "OBITS": 9}, {"MW": 8, "SIMD": 8, "MH": 1, "PE": 1},
                 {"SIMD": 1, "MW": 3, "NTHRES": 3, "OBITS": 2, "ACTVAL": -2},
                 {"WEIGHT_STYLE": "block", "THRESH_STYLE": "distributed"},
                 {"MW": 256, "SIMD": 32, "ACCBITS": 10, "NTHRES": 255, "OBITS": 8, "PE": 2, "MH": 6},
                 {"NTHRES": 3, "OBITS": 2, "THRESH_SHARED": 1}],
    "mvu": [{}, {"NTHRES": 2, "OBITS": 2}, {"IKIND": 2, "IBITS": 1, "WKIND": 2, "WBITS": 1},
            {"IBITS": 8, "IKIND": 0, "WBITS": 1, "WKIND": 2, "SIMD": 16, "MH": 2, "PE": 2},
            {"IBITS": 8, "IKIND": 1, "WBITS": 1, "WKIND": 0}, {"IBITS": 1, "IKIND": 2, "WBITS": 4, "WKIND": 1}],
    "mvu_core": [{"WEIGHT_SOURCE": "stream", "IBITS": 4, "WBITS": 2, "IKIND": 1, "WKIND": 1, "NTHRES": 3, "OBITS": 2},
                 {"WEIGHT_SOURCE": "stream", "XNOR": 1, "ACCBITS": 8, "NTHRES": 1, "OBITS": 1, "SIMD": 1, "MW": 3}],
    "thresholding": [{}, {"C": 4, "PE": 4, "NTHRES": 1, "OBITS": 1},
                     {"IKIND": 2, "IBITS": 1, "TBITS": 3, "C": 1, "PE": 1},
                     {"IKIND": 0, "TBITS": 9, "NTHRES": 15, "OBITS": 4, "ACTVAL": -8},
                     {"C": 32, "PE": 4, "IBITS": 16, "TBITS": 17, "NTHRES": 255, "OBITS": 8},
                     {"C": 6, "PE": 2, "NTHRES": 5, "OBITS": 3, "THRESH_STYLE": "block"},
                     {"C": 32, "PE": 4, "IBITS": 10, "TBITS": 11, "NTHRES": 255, "OBITS": 8, "THRESH_SHARED": 1}],
    "stream_fifo": [{}, {"DEPTH": 1}, {"DEPTH": 2, "W": 1}, {"DEPTH": 5, "W": 100}],
}
LINT_CASES = [(top, i) for top, corners in CORNERS.items() for i in range(len(corners))]


@pytest.mark.parametrize("top,index", LINT_CASES)
def test_lint_clean(top, index):
    """verilator --lint-only -Wall reports nothing."""
    lint(Design(top, module_sources(top), (), (), CORNERS[top][index]))


def _synth_models(rng: np.random.Generator) -> dict:
    """Small FINN nodes, one per module."""
    bits = rng.integers(0, 2, (64, 8))
    return {
        "xnor_mvu": mvau_model(64, 8, 2, 16, DT["BINARY"], DT["BINARY"], DT["BIPOLAR"], bits,
                               np.full((8, 1), 32.0), DT["UINT8"], [1], xnor=True),
        "mvu": mvau_model(16, 4, 2, 4, DT["UINT4"], DT["INT2"], DT["INT12"],
                          rng.integers(-2, 2, (16, 4)), None, None, [1], xnor=False),
        "thresholding": thresholding_model(8, 2, DT["INT8"], DT["UINT2"],
                                           np.tile([[-10.0, 0.0, 10.0]], (8, 1)), DT["INT8"], [1]),
    }


@pytest.mark.parametrize("top", ["xnor_mvu", "mvu", "thresholding"])
def test_yosys_synthesizes(rng, top):
    """Yosys parses and maps the module to xc7 cells: LUTs, FFs, no DSP for XNOR."""
    model = _synth_models(rng)[top]
    layer = layer_rtl(model, model.graph.node[0])
    res = synthesize(top, layer.design.sources, layer.design.params, layer.mem_files)
    assert res["lut"] > 0 and res["ff"] > 0
    if top == "xnor_mvu":
        assert res["dsp"] == 0


def _mvu(rng, idt: str, wdt: str):
    """An 8 x 8 mvu layer (PE 2, SIMD 4: 8 lanes) of the given operand types, no thresholds."""
    idt, wdt = DT[idt], DT[wdt]
    weights = rng.integers(int(wdt.min()), int(wdt.max()) + 1, (8, 8)).astype(float)
    if wdt == DT["BIPOLAR"]:
        weights = np.where(weights > 0, 1.0, -1.0)
    return mvau_model(8, 8, 2, 4, idt, wdt, DT["INT32"], weights, None, None, [1], xnor=False)


@pytest.mark.parametrize("idt,wdt,dsps", [("UINT8", "BIPOLAR", 0), ("INT8", "BINARY", 0), ("BIPOLAR", "INT4", 0),
                                          ("INT4", "INT4", 0), ("UINT4", "INT4", 8), ("INT8", "INT8", 8)])
def test_dsps_only_for_real_multiplies(rng, idt, wdt, dsps):
    """A 1-bit operand (the first layer's binary weights on 8-bit pixels) makes selects, not DSP multiplies; a
    multi-bit product takes a DSP48 per lane from 9 bits on; the DSP model says the same as Yosys."""
    model = _mvu(rng, idt, wdt)
    node = model.graph.node[0]
    layer = layer_rtl(model, node)
    res = synthesize("mvu", layer.design.sources, layer.design.params, layer.mem_files)
    assert res["dsp"] == dsps == MVAUOp().dsps(model, node)


def test_block_style_weights_map_to_bram(rng):
    """WEIGHT_STYLE="block" puts the weight ROM into RAMB18/36."""
    model = _synth_models(rng)["xnor_mvu"]
    layer = layer_rtl(model, model.graph.node[0])
    params = {**layer.design.params, "WEIGHT_STYLE": "block"}
    res = synthesize("xnor_mvu", layer.design.sources, params, layer.mem_files)
    assert res["ramb18"] + res["ramb36"] >= 1


# LUTs (logic + LUT RAM) per lane of an XNOR MVU with its weights in block RAM as Yosys maps it today (307 LUTs;
# 395 with the binary adder tree of 1-bit leaves) (benchmarks/hw_lut_per_lane.py), plus a small margin: a guard
# against mapping regressions (ABC9 re-mapping the popcount's LUT6 / LUT6_2 + CARRY4 primitives, say)
XNOR_LUT_PER_LANE_BRAM = 2.40 + 0.1


def test_xnor_lut_per_lane_guard(rng):
    """A mid-size XNOR MVU (PE 4 x SIMD 32, 64 folds, weights in block RAM) stays at its LUTs per lane."""
    bits = rng.integers(0, 2, (512, 16))
    model = mvau_model(512, 16, 4, 32, DT["BINARY"], DT["BINARY"], DT["UINT16"], bits, None, None, [1], xnor=True)
    layer = layer_rtl(model, model.graph.node[0])
    params = {**layer.design.params, "WEIGHT_STYLE": "block"}
    res = synthesize("xnor_mvu", layer.design.sources, params, layer.mem_files)
    assert res["ramb18"] + res["ramb36"] >= 1
    assert (res["lut"] + res["lutram"]) / (4 * 32) <= XNOR_LUT_PER_LANE_BRAM
