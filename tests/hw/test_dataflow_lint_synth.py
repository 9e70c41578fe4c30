"""The data-movement and shortcut modules lint clean under `verilator -Wall` at their parameter
corners and synthesise with Yosys synth_xilinx (xc7) through read_slang, from FINN nodes."""
from __future__ import annotations

import pytest
from qonnx.core.datatype import DataType as DT

from finn_dataflow_nodes import (add_model, concat_model, duplicate_model, dwc_model,
                                 fmpadding_model, global_acc_pool_model, label_select_model,
                                 pool_model, swg_model)
from xnorflow.hw.ops import layer_rtl, module_sources
from xnorflow.hw.synth import synthesize
from xnorflow.hw.verilator import Design, lint

CORNERS = {
    "sliding_window": [{}, {"K_H": 1, "K_W": 1, "S_H": 2, "S_W": 2},
                       {"IFM_H": 1, "K_H": 1, "C": 1, "SIMD": 1},
                       {"IFM_H": 5, "IFM_W": 7, "K_H": 5, "K_W": 7, "RAM_STYLE": "block"},
                       {"RAM_STYLE": "distributed", "BITS": 8, "SIMD": 4}],
    "fm_padding": [{}, {"PAD_T": 0, "PAD_L": 0, "PAD_B": 2, "PAD_R": 3},
                   {"C": 1, "SIMD": 1, "BITS": 1}, {"BITS": 32, "PAD_MIN": 1},
                   {"C": 1, "SIMD": 1, "BITS": 1, "PAD_MIN": 1}],
    "pool": [{}, {"FUNC": 0, "IKIND": 2, "IBITS": 1, "OBITS": 1},
             {"FUNC": 2, "SHIFT": 2, "IKIND": 1, "OBITS": 4}, {"K": 1, "C": 4, "PE": 4},
             {"K": 64, "OBITS": 10}],
    "duplicate_streams": [{}, {"W": 1}, {"W": 200}],
    "add_streams": [{}, {"AKIND": 2, "ABITS": 1, "BKIND": 0, "BBITS": 4, "OBITS": 6},
                    {"PE": 1}],
    "stream_concat": [{}, {"CF0": 1, "CF1": 3, "IKIND0": 2, "IBITS0": 1, "OBITS": 5},
                      {"SIMD": 1}],
    "label_select": [{}, {"K": 1, "PE": 10}, {"LABELS": 1000, "PE": 8, "K": 5, "OBITS": 16,
                                              "IKIND": 0}, {"IKIND": 2, "IBITS": 1, "K": 2}],
    "width_converter": [{}, {"IW": 24, "OW": 8, "UNIT": 8}, {"IW": 8, "OW": 8, "UNIT": 8},
                        {"IW": 1, "OW": 64, "UNIT": 1}],
}
LINT_CASES = [(top, i) for top, corners in CORNERS.items() for i in range(len(corners))]

# BNN-sized nodes: a 32x32x64 binary feature map, SIMD 16, and the shortcut joins of ReActNet
SYNTH_MODELS = {
    "sliding_window": lambda: swg_model((32, 32), 64, 16, (3, 3), (1, 1), DT["BINARY"]),
    "sliding_window_bram": lambda: swg_model((32, 32), 64, 16, (3, 3), (1, 1), DT["BINARY"],
                                             ram_style="block"),
    "fm_padding": lambda: fmpadding_model((32, 32), (1, 1, 1, 1), 64, 16, DT["BINARY"]),
    "fm_padding_min": lambda: fmpadding_model((16, 16), (1, 1, 1, 1), 64, 8, DT["INT32"], minimum=True),
    "pool": lambda: pool_model("MaxPool", (2, 2), (16, 16), 64, 16, DT["BINARY"], DT["BINARY"]),
    "global_acc_pool": lambda: global_acc_pool_model([1, 8, 8], 64, 8, DT["INT8"]),
    "duplicate_streams": lambda: duplicate_model([1, 16, 16], 64, 8, DT["INT8"]),
    "add_streams": lambda: add_model([1, 16, 16, 64], 8, DT["INT8"], DT["INT8"], DT["INT9"]),
    "stream_concat": lambda: concat_model([1, 8, 8], (64, 64), 8, (DT["INT8"], DT["INT8"])),
    "label_select": lambda: label_select_model([1], 20, 4, 3, DT["INT16"]),
    "width_converter": lambda: dwc_model([1, 8, 8, 48], 16, 24, DT["BINARY"]),
}


@pytest.mark.parametrize("top,index", LINT_CASES)
def test_lint_clean(top, index):
    """verilator --lint-only -Wall reports nothing."""
    lint(Design(top, module_sources(top), (), (), CORNERS[top][index]))


SLOW_SYNTH = {"global_acc_pool", "duplicate_streams", "stream_concat"}   # simple, or pool again
SYNTH_PARAMS = [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_SYNTH else n
                for n in SYNTH_MODELS]


@pytest.mark.parametrize("name", SYNTH_PARAMS)
def test_yosys_synthesizes(name):
    """Yosys parses and maps the module to xc7 cells without DSPs."""
    model = SYNTH_MODELS[name]()
    layer = layer_rtl(model, model.graph.node[0])
    res = synthesize(layer.design.top, layer.design.sources, layer.design.params)
    assert res["lut"] > 0 and res["ff"] > 0 and res["dsp"] == 0
    if name == "sliding_window":   # FINN's default ram_style: LUT RAM line buffer
        assert res["lutram"] > 0 and res["ramb18"] + res["ramb36"] == 0
    if name == "sliding_window_bram":
        assert res["ramb18"] + res["ramb36"] >= 1
