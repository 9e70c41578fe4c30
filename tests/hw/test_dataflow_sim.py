"""Verilator simulation of the data-movement and shortcut layers vs FINN's python execution,
bit for bit, over several frames back to back, at full rate and with random input gaps and
output ready drops. Cases marked slow widen the parameter sweep (one compile each)."""
from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType as DT

from finn_dataflow_nodes import (add_model, concat_model, dwc_model, duplicate_model,
                                 finn_outputs, fmpadding_model, global_acc_pool_model,
                                 label_select_model, pool_model, random_inputs, swg_model)
from xnorflow.errors import XnorflowError
from xnorflow.hw.ops import layer_rtl
from xnorflow.hw.ops.common import run_frames

FRAMES = 3
CASES = {
    # ConvolutionInputGenerator: (IFMDim, channels, SIMD, kernel, stride, type)
    "swg_3x3_s1": lambda: swg_model((7, 6), 8, 2, (3, 3), (1, 1), DT["BINARY"]),
    "swg_2x3_s2": lambda: swg_model((9, 8), 3, 1, (2, 3), (2, 2), DT["INT4"]),
    "swg_1d": lambda: swg_model((1, 12), 4, 4, (1, 3), (1, 1), DT["UINT8"]),
    "swg_1x1_s2": lambda: swg_model((5, 5), 2, 1, (1, 1), (2, 2), DT["UINT2"]),
    "swg_full_window": lambda: swg_model((3, 4), 4, 2, (3, 4), (1, 1), DT["BIPOLAR"]),
    # FMPadding: (ImgDim, (top, left, bottom, right), channels, SIMD, type)
    "pad_binary": lambda: fmpadding_model((4, 5), (1, 2, 0, 1), 6, 2, DT["BINARY"]),
    "pad_int": lambda: fmpadding_model((3, 3), (1, 1, 1, 1), 4, 4, DT["INT4"]),
    "pad_min_int": lambda: fmpadding_model((3, 4), (1, 1, 1, 0), 4, 2, DT["INT4"], minimum=True),
    # Pool: (function, kernel, output dims, channels, PE, in type, out type)
    "maxpool_int": lambda: pool_model("MaxPool", (2, 2), (3, 3), 8, 2, DT["INT4"], DT["INT4"]),
    "maxpool_bipolar": lambda: pool_model("MaxPool", (3, 3), (2, 2), 4, 4, DT["BIPOLAR"],
                                          DT["BIPOLAR"]),
    "quantavgpool": lambda: pool_model("QuantAvgPool", (2, 2), (3, 3), 8, 2, DT["INT4"],
                                       DT["INT4"]),
    "accpool": lambda: pool_model("AccPool", (2, 2), (2, 2), 6, 3, DT["UINT3"], DT["UINT5"],
                                  batch=2),
    "global_acc_pool": lambda: global_acc_pool_model([1, 4, 4], 6, 2, DT["INT3"]),
    # shortcut fork, join and concatenation
    "duplicate": lambda: duplicate_model([2, 3, 3], 6, 3, DT["INT5"]),
    "add": lambda: add_model([1, 3, 3, 8], 2, DT["INT4"], DT["UINT3"], DT["INT5"]),
    "add_bipolar": lambda: add_model([1, 2, 2, 4], 4, DT["BIPOLAR"], DT["INT8"], DT["INT9"]),
    "concat": lambda: concat_model([1, 3, 3], (4, 6), 2, (DT["UINT3"], DT["INT4"])),
    # LabelSelect (many ties with INT4 logits) and width converters
    "topk": lambda: label_select_model([20], 12, 3, 3, DT["INT4"]),
    "top1": lambda: label_select_model([8], 10, 10, 1, DT["INT8"]),
    "dwc_12_to_16": lambda: dwc_model([1, 2, 2, 6], 3, 4, DT["UINT4"]),
    "dwc_24_to_8": lambda: dwc_model([1, 3, 3, 6], 6, 2, DT["INT4"]),
}
SLOW = {"swg_1d", "swg_1x1_s2", "swg_full_window", "maxpool_bipolar", "accpool", "add_bipolar",
        "top1", "dwc_24_to_8"}
PARAMS = [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in CASES]


def _check(model, rng, **sim_kwargs):
    """Simulate FRAMES random frames through the node's RTL; assert equal to FINN per frame."""
    rtl = layer_rtl(model, model.graph.node[0])
    frames = [random_inputs(rng, model) for _ in range(FRAMES)]
    ys, res = run_frames(rtl, frames, **sim_kwargs)
    for f, xs in enumerate(frames):
        for y, ref in zip(ys, finn_outputs(model, *xs)):
            np.testing.assert_array_equal(y[f], ref)
    return rtl, res


def _fill(rtl) -> int:
    """Cycles before a layer reaches its steady rate: the sliding window's first window."""
    p = rtl.design.params
    if rtl.design.top != "sliding_window":
        return 8
    return ((p["K_H"] - 1) * p["IFM_W"] + p["K_W"]) * p["C"] // p["SIMD"] + 8


@pytest.mark.parametrize("case", PARAMS)
def test_matches_finn(rng, case):
    """Bit-exact with FINN at full rate, then with gaps and stalls (same compiled model)."""
    model = CASES[case]()
    rtl, res = _check(model, rng)
    ins, outs = rtl.inputs, rtl.outputs
    busiest = max(p.words for p in ins + outs)
    assert res.cycles <= FRAMES * busiest + _fill(rtl)   # no stalls after the first window
    for seed in (1, 2):
        _check(model, rng, seed=seed, in_gap=0.4, out_stall=0.4)


@pytest.mark.fast
def test_min_padding_border_is_type_minimum(rng):
    """A max pool's padding (MinPadding): the image in the middle, the input type's minimum on every border."""
    model = CASES["pad_min_int"]()
    x = random_inputs(rng, model)[0]
    (y,) = finn_outputs(model, x)
    np.testing.assert_array_equal(y[:, 1:-1, 1:], x)  # pad (top, left, bottom, right) = (1, 1, 1, 0)
    assert (y[:, [0, -1]] == -8).all() and (y[:, :, 0] == -8).all()


def test_swg_window_is_im2col_slice(rng):
    """The window stream reshapes to FINN's MVAU input (1, OH, OW, K*K*C) without reordering."""
    model = CASES["swg_3x3_s1"]()
    rtl = layer_rtl(model, model.graph.node[0])
    x = random_inputs(rng, model)[0]
    (y,), _ = rtl.run(x)
    assert y.shape == (1, 5, 4, 72)
    np.testing.assert_array_equal(y[0, 1, 2].reshape(3, 3, 8), x[0, 1:4, 2:5])


@pytest.mark.parametrize("build,problem", [
    (lambda: swg_model((6, 6), 4, 3, (3, 3), (1, 1), DT["UINT4"]), "SIMD=3 does not divide IFMChannels=4"),
    (lambda: pool_model("AvgPool", (2, 2), (2, 2), 4, 2, DT["UINT4"], DT["UINT4"]),
     "not integer-exact"),
    (lambda: add_model([1, 4], 1, DT["INT4"], DT["INT4"], DT["INT4"]),
     r"INT4 cannot hold results in \[-16, 14\]"),
])
def test_unsupported_nodes_raise_one_line_errors(build, problem):
    """Configurations the RTL cannot match exactly fail early with a fix to apply."""
    model = build()
    with pytest.raises(XnorflowError, match=problem) as err:
        layer_rtl(model, model.graph.node[0])
    assert "\n" not in str(err.value) and err.value.fix


@pytest.mark.parametrize("case,suffix", [("swg_3x3_s1", "_rtl"), ("pad_binary", "_rtl"),
                                         ("maxpool_int", "_hls"), ("add", "_rtl"),
                                         ("duplicate", "_hls"), ("dwc_12_to_16", "_hls")])
def test_specialised_nodes_map_like_generic(case, suffix):
    """FINN's _hls/_rtl specialisations of a node get the same design as the generic node."""
    model = CASES[case]()
    node = model.graph.node[0]
    generic = layer_rtl(model, node).design
    node.op_type += suffix
    node.domain = f"finn.custom_op.fpgadataflow.{suffix[1:]}"
    assert layer_rtl(model, node).design == generic
