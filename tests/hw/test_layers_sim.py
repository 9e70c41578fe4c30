"""Verilator simulation of xnor_mvu, mvu and thresholding vs FINN's python execution, bit for bit (thresholds per
channel, or one row shared by every channel); mvu_core with its weights on a stream (FINN's mem_mode "external")
against the same layer with them in its rom."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from qonnx.core.datatype import DataType as DT
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from finn_nodes import finn_execute, mvau_model, thresholding_model
from xnorflow.hw.folding import layer_cycles
from xnorflow.errors import XnorflowError
from xnorflow.hw.ops import layer_rtl, op_of
from xnorflow.hw.ops.common import run_frames
from xnorflow.hw.ops.mvau import WEIGHT_FILE, weight_stream
from xnorflow.hw.ops.thresholds import THRESH_FILE, search_stages
from xnorflow.hw.streams import pack_words
from xnorflow.hw.verilator import SimulationDeadlock, simulate

# (MW, MH, PE, SIMD, thresholds per channel (0 = noActivation), output type, ActVal, vectors)
XNOR_CASES = [
    (64, 16, 4, 16, 1, "BIPOLAR", 0, [1, 3, 3]),
    (96, 12, 3, 32, 3, "INT2", -2, [5]),
    (20, 8, 8, 5, 0, "UINT8", 0, [2, 2]),
    (256, 8, 2, 32, 255, "UINT8", 0, [3]),       # 8-bit output: 8 search stages
]
# (MW, MH, PE, SIMD, input type, weight type, thresholds, output type, ActVal, vectors)
MVU_CASES = [
    (27, 8, 2, 3, "UINT8", "INT2", 0, "INT16", 0, [1, 4]),
    (32, 6, 3, 8, "INT4", "INT4", 3, "UINT2", 0, [3]),
    (16, 4, 1, 16, "INT8", "BIPOLAR", 1, "BIPOLAR", 0, [2]),
    (32, 8, 2, 8, "INT4", "INT4", 12, "INT4", -6, [3]),
    (12, 4, 2, 4, "UINT8", "BINARY", 3, "UINT2", 0, [2]),     # 1-bit {0, 1} weights: selects, no multiplier
    (12, 4, 2, 6, "BIPOLAR", "INT4", 3, "UINT2", 0, [2]),     # bipolar activations x 4-bit weights
]
# (channels, PE, input type, thresholds, output type, ActVal, vectors)
THRESHOLD_CASES = [
    (16, 4, "INT8", 3, "INT2", -2, [2, 3]),
    (6, 6, "UINT4", 1, "BIPOLAR", 0, [4]),
    (32, 4, "INT16", 255, "UINT8", 0, [2, 2]),   # 8-bit output, 8 channel folds
    (12, 3, "INT8", 5, "UINT3", 0, [3]),         # N not of the form 2^k - 1
    (10, 2, "UINT6", 10, "INT4", -5, [2, 2]),
]
# one row of thresholds for every channel (FINN's shape (1, N)), PE > 1 and several channel folds: (kind, case)
SHARED_CASES = [
    ("thr", (32, 4, "INT10", 255, "UINT8", 0, [2])),    # a pool's requantiser: INT10 in, 8 channel folds
    ("xnor", (64, 16, 4, 16, 3, "INT2", -2, [3])),
    ("mvu", (32, 8, 2, 8, "INT4", "INT4", 12, "INT4", -6, [3])),
]


def _thresholds(rng: np.random.Generator, ch: int, n: int, lo: int, hi: int) -> np.ndarray:
    """Random thresholds per channel in no order (FINN does not sort them), some out of range."""
    return rng.integers(lo - 2, hi + 3, (ch, n)).astype(np.float32)


def _values(rng: np.random.Generator, dt, shape) -> np.ndarray:
    """Random tensor of FINN data type `dt`."""
    if dt == DT["BIPOLAR"]:
        return rng.choice([-1, 1], shape)
    return rng.integers(dt.min(), dt.max() + 1, shape)


def _xnor_model(rng, case, shared: bool = False):
    """MVAU with binaryXnorMode for one XNOR_CASES entry, with its random input (shared: one threshold row)."""
    mw, mh, pe, simd, n, odt, actval, vecs = case
    weights = _values(rng, DT["BINARY"], (mw, mh))
    thr = _thresholds(rng, 1 if shared else mh, n, 0, mw) if n else None
    model = mvau_model(mw, mh, pe, simd, DT["BINARY"], DT["BINARY"], DT[odt], weights, thr,
                       DT["INT16"], vecs, xnor=True, actval=actval)
    return model, _values(rng, DT["BINARY"], (*vecs, mw))


def _mvu_model(rng, case, shared: bool = False):
    """Multi-bit MVAU for one MVU_CASES entry, with its random input (shared: one threshold row)."""
    mw, mh, pe, simd, idt, wdt, n, odt, actval, vecs = case
    idt, wdt = DT[idt], DT[wdt]
    weights = _values(rng, wdt, (mw, mh))
    prods = [a * b for a in (idt.min(), idt.max()) for b in (wdt.min(), wdt.max())]
    thr = _thresholds(rng, 1 if shared else mh, n, mw * min(prods) // 4, mw * max(prods) // 4) if n else None
    model = mvau_model(mw, mh, pe, simd, idt, wdt, DT[odt], weights, thr, DT["INT32"], vecs,
                       xnor=False, actval=actval)
    return model, _values(rng, idt, (*vecs, mw))


def _thresholding_model(rng, case, shared: bool = False):
    """Thresholding node for one THRESHOLD_CASES entry, with its random input (shared: one threshold row)."""
    ch, pe, idt, n, odt, actval, vecs = case
    idt = DT[idt]
    thr = _thresholds(rng, 1 if shared else ch, n, int(idt.min()), int(idt.max()))
    model = thresholding_model(ch, pe, idt, DT[odt], thr, DT["INT32"], vecs, actval)
    return model, _values(rng, idt, (*vecs, ch))


def _check(model, x, **sim_kwargs):
    """Simulate the model's node and compare with FINN; returns the layer and sim result."""
    layer = layer_rtl(model, model.graph.node[0])
    (y,), res = layer.run(x, **sim_kwargs)
    np.testing.assert_array_equal(y, finn_execute(model, x))
    return layer, res


BUILDERS = {"xnor": (_xnor_model, XNOR_CASES), "mvu": (_mvu_model, MVU_CASES),
            "thr": (_thresholding_model, THRESHOLD_CASES)}
ALL_CASES = [(kind, i) for kind, (_, cases) in BUILDERS.items() for i in range(len(cases))]


@pytest.mark.parametrize("kind,index", ALL_CASES)
def test_matches_finn_at_full_throughput(rng, kind, index):
    """Bit-exact with FINN, one fold per cycle: outputs spaced exactly by the fold count."""
    build, cases = BUILDERS[kind]
    model, x = build(rng, cases[index])
    layer, res = _check(model, x)
    cycles = layer_cycles(model, model.graph.node[0])
    per_out = cycles // layer.outputs[0].words
    assert res.last_out - res.first_out == cycles - per_out


@pytest.mark.parametrize("kind,index", ALL_CASES)
def test_matches_finn_with_gaps_and_stalls(rng, kind, index):
    """Bit-exact with random input gaps and output ready drops (reuses the compiled model)."""
    build, cases = BUILDERS[kind]
    for seed in (1, 2):
        _check(*build(rng, cases[index]), seed=seed, in_gap=0.4, out_stall=0.4)


@pytest.mark.parametrize("kind,case", SHARED_CASES)
def test_shared_row_matches_finn(rng, kind, case):
    """A shared threshold row is stored once (one file per search stage, 2^s thresholds, read by every lane) and
    the layer gives FINN's outputs at full throughput and with gaps and stalls."""
    model, x = BUILDERS[kind][0](rng, case, shared=True)
    layer, res = _check(model, x)
    nthres = layer.design.params["NTHRES"]
    assert layer.design.params["THRESH_SHARED"] == 1
    stages = {f"{THRESH_FILE}_s{s}.mem": 2 ** s for s in range(search_stages(nthres))}
    assert {f: len(text.split()) for f, text in layer.mem_files.items() if f.startswith(THRESH_FILE)} == stages
    cycles = layer_cycles(model, model.graph.node[0])
    assert res.last_out - res.first_out == cycles - cycles // layer.outputs[0].words
    _check(model, x, seed=1, in_gap=0.4, out_stall=0.4)


def _with_mem_mode(model: ModelWrapper, mode: str) -> ModelWrapper:
    """A copy of a one-MVAU model with FINN's mem_mode set to `mode`."""
    other = ModelWrapper(copy.deepcopy(model.model))
    getCustomOp(other.graph.node[0]).set_nodeattr("mem_mode", mode)
    return other


@pytest.mark.parametrize("kind,index", [("xnor", 0), ("mvu", 1)])
def test_weight_stream_matches_rom(rng, kind, index):
    """mem_mode "external": mvu_core fed the weight stream (the matrix once per input vector) gives the rom mode's
    outputs, which are FINN's, at the rom mode's rate and with gaps on both inputs and output stalls."""
    build, cases = BUILDERS[kind]
    model, x = build(rng, cases[index])
    ext = _with_mem_mode(model, "external")
    node = ext.graph.node[0]
    rom, stream = layer_rtl(model, model.graph.node[0]), layer_rtl(ext, node)
    assert stream.design.top == "mvu_core" and WEIGHT_FILE not in stream.mem_files
    assert [p.stream.name for p in stream.inputs] == ["in0_V", "in1_V"]
    w = weight_stream(ext.get_initializer(node.input[1]), getCustomOp(node))
    frames = [x, x[..., ::-1]]
    (ys,), res = run_frames(rom, [[f] for f in frames])
    np.testing.assert_array_equal(ys[0], finn_execute(model, x))
    (ys_w,), res_w = run_frames(stream, [[f, w] for f in frames])
    np.testing.assert_array_equal(ys_w, ys)
    assert (res_w.first_out, res_w.last_out) == (res.first_out, res.last_out)
    (ys_gaps,), _ = run_frames(stream, [[f, w] for f in frames], seed=3, in_gap=0.4, out_stall=0.4)
    np.testing.assert_array_equal(ys_gaps, ys)


@pytest.mark.parametrize("style", ["distributed", "block", "ultra"])
def test_weight_rom_in_each_ram_style(rng, style):
    """FINN's ram_style is the weight rom's STYLE (rom.sv, "ultra" included) and the layer still gives FINN's
    outputs."""
    model, x = _xnor_model(rng, XNOR_CASES[0])
    getCustomOp(model.graph.node[0]).set_nodeattr("ram_style", style)
    layer, _ = _check(model, x)
    assert layer.design.params["WEIGHT_STYLE"] == style


@pytest.mark.parametrize("kind,index", [("xnor", 0), ("mvu", 1)])
def test_threshold_roms_in_block_ram(rng, kind, index):
    """FINN's ram_style_thresholds is the threshold (start) roms' STYLE, and the layer still gives FINN's outputs."""
    builder, cases = BUILDERS[kind]
    model, x = builder(rng, cases[index])
    node = model.graph.node[0]
    getCustomOp(node).set_nodeattr("ram_style_thresholds", "block")
    layer, _ = _check(model, x)
    assert layer.design.params["THRESH_STYLE"] == "block"
    roms = [m for m in op_of(node).memories(layer) if m.kind == "rom" and m.depth == cases[index][1] // cases[index][2]]
    assert roms and {m.style for m in roms} == {"block"}


@pytest.mark.parametrize("kind,case", [("xnor", (600, 48, 1, 40, 1, "BIPOLAR", 0, [2])),
                                       ("mvu", (240, 64, 2, 12, "INT4", "INT2", 3, "UINT2", 0, [2]))])
def test_block_weight_rom_in_columns(rng, kind, case):
    """A block weight rom past 512 words (720 and 640) is split into columns one block RAM deep (rom.sv COLUMN: 36
    bits, whole 2-bit weights in the second), each with its own file, and the layer still gives FINN's outputs."""
    builder, _ = BUILDERS[kind]
    model, x = builder(rng, case)
    getCustomOp(model.graph.node[0]).set_nodeattr("ram_style", "block")
    layer, _ = _check(model, x)
    column = layer.design.params["WEIGHT_COLUMN"]
    files = sorted(name for name in layer.mem_files if name.startswith(WEIGHT_FILE))
    assert column == 36 and files == [f"{WEIGHT_FILE}_c0.mem", f"{WEIGHT_FILE}_c1.mem"]


def test_unsupported_mem_mode_is_one_line(rng):
    """A mem_mode our RTL does not implement (FINN's "dynamic") stops with one line naming the layer."""
    model, _ = _mvu_model(rng, MVU_CASES[0])
    dyn = _with_mem_mode(model, "dynamic")
    with pytest.raises(XnorflowError, match=r"mvau0 \(MVAU\): mem_mode 'dynamic' is not supported"):
        layer_rtl(dyn, dyn.graph.node[0])


def test_deadlock_reports_stalled_streams(rng):
    """An output that is never ready stops the design; the report names both streams."""
    model, x = _xnor_model(rng, XNOR_CASES[0])
    with pytest.raises(SimulationDeadlock) as err:
        _check(model, x, out_stall=1.0, timeout=200)
    assert "input in0_V not accepted" in str(err.value)
    assert "output out0_V not produced (0 of 36 words)" in str(err.value)


def test_missing_output_is_reported(rng):
    """Input that runs out before all outputs: the report names the output stream."""
    model, x = _thresholding_model(rng, THRESHOLD_CASES[1])
    layer = layer_rtl(model, model.graph.node[0])
    words = pack_words(x.reshape(layer.inputs[0].folded), layer.inputs[0].dtype)
    with pytest.raises(SimulationDeadlock, match=r"output out0_V not produced \(3 of 4 words\)"):
        simulate(layer.design, {"in0_V": words[:3]}, {"out0_V": 4}, layer.mem_files, timeout=100)


def test_search_stages_cover_the_count():
    """K stages find a count of 0..N: 2^K - 1 >= N thresholds, one stage for a bipolar sign."""
    assert [search_stages(n) for n in (1, 2, 3, 4, 5, 7, 8, 255)] == [1, 2, 2, 3, 3, 3, 4, 8]
