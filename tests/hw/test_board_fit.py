"""Folding for the whole budget (hw/board_fit.py): PE/SIMD and each MVAU's weight placement (LUT RAM, block RAM,
UltraRAM, DDR) within LUT/DSP/BRAM/URAM and DDR bandwidth; the bound reported; one-line errors; a fitted design
with one layer's weights in DDR bit-exact in Verilator."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType as DT
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from finn_nodes import FINN_DOMAIN
from xnorflow.build_flows.hw_graph import split_host
from xnorflow.errors import XnorflowError
from xnorflow.hw import accelerator
from xnorflow.hw.accelerator import build_target
from xnorflow.hw.board_fit import (DDR, check_placement, ddr_cycles, design_cycles, fit, fit_report,
                                    input_bytes, place, placement, weight_nodes)
from xnorflow.hw.boards import board
from xnorflow.hw.folding import apply_config, split_forks
from xnorflow.hw.resources import Budget, Headroom, modelled_use, over_budget
from xnorflow.hw.shell import MAX_WEIGHT_PORTS

# (input vectors, MW, MH, weight type): a chain of MVAUs at falling resolution; the sliding windows and pools
# between them are left out, since the fit reads only the nodes' attributes
LAYERS = (([1, 16, 16], 72, 32, "BIPOLAR"), ([1, 8, 8], 288, 64, "BIPOLAR"), ([1, 4, 4], 576, 128, "BIPOLAR"),
          ([1, 4, 4], 128, 128, "BIPOLAR"), ([1], 128, 16, "INT8"))


def _mvau(rng, k: int, vecs: list[int], mw: int, mh: int, wdt: str, src: str, dst: str) -> tuple:
    """One MVAU node of the chain and its initializers: XNOR with one threshold per channel, or INT8 x INT8."""
    xnor = wdt == "BIPOLAR"
    inputs = [src, f"w{k}"] + ([f"t{k}"] if xnor else [])
    node = helper.make_node("MVAU", inputs, [dst], domain=FINN_DOMAIN, backend="fpgadataflow", name=f"MVAU_{k}",
                            MW=mw, MH=mh, PE=1, SIMD=1, inputDataType="BIPOLAR" if xnor else "INT8",
                            weightDataType=wdt, outputDataType="BIPOLAR" if xnor else "INT32", ActVal=0,
                            binaryXnorMode=int(xnor), noActivation=int(not xnor), numInputVectors=vecs)
    weights = 2.0 * rng.integers(0, 2, (mw, mh)) - 1 if xnor else rng.integers(-128, 128, (mw, mh)).astype(float)
    inits = {f"w{k}": (weights, DT[wdt])}
    if xnor:
        inits[f"t{k}"] = (rng.integers(0, mw + 1, (mh, 1)).astype(float), DT["INT32"])
    return node, inits


def chain(seed: int = 0, layers: tuple = LAYERS) -> ModelWrapper:
    """`layers` as one graph (slowest folding, weights in rom)."""
    rng, nodes, inits, infos = np.random.default_rng(seed), [], {}, []
    for k, (vecs, mw, mh, wdt) in enumerate(layers):
        node, more = _mvau(rng, k, vecs, mw, mh, wdt, f"x{k}", f"x{k + 1}")
        nodes.append(node)
        inits |= more
        infos.append(helper.make_tensor_value_info(f"x{k + 1}", TensorProto.FLOAT, [*vecs, mh]))
    inp = helper.make_tensor_value_info("x0", TensorProto.FLOAT, [*layers[0][0], layers[0][1]])
    model = ModelWrapper(qonnx_make_model(helper.make_graph(nodes, "chain", [inp], [infos.pop()], value_info=infos)))
    for name, (value, dt) in inits.items():
        model.set_initializer(name, value.astype(np.float32))
        model.set_tensor_datatype(name, dt)
    return model


def cycles(model: ModelWrapper, budget: Budget) -> float:
    """Design cycles/frame: the slower of compute and DDR."""
    return max(design_cycles(model, budget))


def random_budget(rng: np.random.Generator) -> Budget:
    """A budget around what the chain needs at its slowest folding (sometimes less than it needs on chip)."""
    return Budget(lut=float(rng.uniform(900, 20000)), dsp=float(rng.integers(1, 64)), bram36=float(rng.integers(0, 40)),
                  uram=float(rng.integers(0, 4)), ddr_bytes_per_cycle=float(rng.uniform(0.5, 64)),
                  port_bytes_per_cycle=float(rng.uniform(0.5, 16)))


def larger(budget: Budget, rng: np.random.Generator) -> Budget:
    """Every figure of `budget` grown by 0..100%."""
    grow = {f: getattr(budget, f) * float(rng.uniform(1, 2)) for f in
            ("lut", "dsp", "bram36", "uram", "ddr_bytes_per_cycle", "port_bytes_per_cycle")}
    return replace(budget, **grow)


def test_fit_respects_random_budgets_and_a_larger_one_is_never_slower():
    """Over 30 random budgets: the fit's modelled LUT/DSP/BRAM/URAM stay inside; a larger budget never gives more
    cycles/frame (fewer frames/s)."""
    rng, fitted = np.random.default_rng(12), 0
    for _ in range(30):
        budget = random_budget(rng)
        try:
            model = fit(chain(), budget)[0]
        except XnorflowError:
            continue
        assert not over_budget(modelled_use(model), budget)
        small, big = cycles(model, budget), larger(budget, rng)
        assert cycles(fit(chain(), big)[0], big) <= small
        fitted += 1
    assert fitted >= 20


@pytest.mark.fast
def test_ddr_bound_when_block_ram_is_tiny():
    """No block RAM or UltraRAM and few LUTs: the big weights stream from DDR and DDR is the bound; with plenty of
    block RAM every weight stays on chip."""
    tight = Budget(lut=2500, dsp=64, bram36=0, ddr_bytes_per_cycle=2.0, port_bytes_per_cycle=2.0)
    model, bound = fit(chain(), tight)
    assert bound == "DDR" and DDR in [placement(n) for n in weight_nodes(model)]
    compute, ddr = design_cycles(model, tight)
    assert ddr >= compute
    roomy = replace(tight, lut=1e6, bram36=1000)
    assert DDR not in [placement(n) for n in weight_nodes(fit(chain(), roomy)[0])]


@pytest.mark.fast
@pytest.mark.parametrize("name", ["Pynq-Z2", "Ultra96", "KV260", "ZCU104"])
def test_ultraram_only_on_boards_that_have_it(name):
    """Fitted to each board with its block RAM and most LUTs taken away, UltraRAM allowed: weights go to UltraRAM on
    KV260 and ZCU104 only, within the board's; by default (no run-time weight load yet) nowhere."""
    b, room = replace(board(name), bram36=0, lut=2000), Headroom(uram=1.0)
    model = fit(chain(), b, room)[0]
    assert ("ultra" in {placement(n) for n in weight_nodes(model)}) == (b.uram > 0)
    rep = fit_report(model, b, room)
    assert rep["use"]["uram"] <= b.uram and rep["use"]["bram36"] == 0
    assert "ultra" not in {placement(n) for n in weight_nodes(fit(chain(), b)[0])}
    assert rep["bound"] in ("compute", "on-chip memory", "DDR") and rep["frames_per_s"] > 0


@pytest.mark.fast
def test_model_that_cannot_fit_even_in_ddr_is_one_line():
    """A DSP budget below one INT8 lane names the resource and the layer."""
    with pytest.raises(XnorflowError, match=r"does not fit the budget even at the slowest folding with every weight "
                                            r"in DDR: DSP over budget \(1 modelled\), most in layer MVAU_4"):
        fit(chain(), Budget(lut=1e6, dsp=0, ddr_bytes_per_cycle=8.0))


@pytest.mark.fast
def test_ultra_on_a_board_without_uram_is_one_line(tmp_path):
    """A folding JSON with ram_style 'ultra' on the Pynq-Z2 (no UltraRAM) stops in one line naming the layer."""
    config = tmp_path / "f.json"
    config.write_text(json.dumps({"MVAU_2": {"PE": 1, "SIMD": 4, "ram_style": "ultra"}}))
    with pytest.raises(XnorflowError, match=r"MVAU_2 \(MVAU\): ram_style 'ultra' on Pynq-Z2, which has no UltraRAM"):
        accelerator.fold(chain(), board("Pynq-Z2"), str(config))


@pytest.mark.fast
def test_external_on_a_non_mvau_is_one_line(tmp_path):
    """mem_mode 'external' on a layer that is not a MVAU stops in one line naming it."""
    model = chain()
    model.graph.node[1].op_type = "Thresholding"    # only its name and type are read before the refusal
    config = tmp_path / "f.json"
    config.write_text(json.dumps({"MVAU_1": {"mem_mode": "external"}}))
    with pytest.raises(XnorflowError, match=r"layer MVAU_1 \(Thresholding\) has mem_mode 'external', but only a MVAU"):
        apply_config(model, config)


def one_in_ddr(build) -> Budget:
    """The first LUT budget, in 100-LUT steps, at which the fit of a build's HW part streams exactly one MVAU's
    weights from DDR (block RAM for its line buffers and thresholds only, 4 bytes per cycle of DDR)."""
    part = split_forks(split_host(ModelWrapper(str(build / "hw.onnx")))[1])
    for lut in range(4000, 8000, 100):
        budget = Budget(lut=lut, dsp=64, bram36=12, ddr_bytes_per_cycle=4.0, port_bytes_per_cycle=4.0)
        try:
            model = fit(ModelWrapper(part.model.__deepcopy__()), budget)[0]
        except XnorflowError:
            continue
        if [placement(n) for n in weight_nodes(model)].count(DDR) == 1:
            return budget
    raise AssertionError("no LUT budget puts exactly one MVAU in DDR")


def test_one_layer_in_ddr_bit_exact(tmp_path, tiny_graph, monkeypatch):
    """tiny-bireal fitted to a budget that streams one layer's weights from the DDR model, through rtl and sim:
    bit-exact against FINN's python execution, at the bound in steady state; its report names the DDR layer."""
    build = tiny_graph("tiny-bireal", tmp_path / "b")
    budget = one_in_ddr(build)
    monkeypatch.setattr(accelerator, "fit_board", lambda model, b: fit(model, budget)[0])
    out = build_target(build, "sim", "Pynq-Z2", None, frames=3)
    folding = json.loads((build / "rtl" / "folding.json").read_text())
    ddr = [k for k, v in folding.items() if v.get("mem_mode") == "external"]
    assert len(ddr) == 1 and out["rtl"]["fit"]["layers"][ddr[0]]["memory"] == DDR
    assert out["sim"]["bit_exact"] and out["sim"]["ratio_to_bound"] <= 1.02


@pytest.mark.fast
def test_ultraram_weights_refused_for_a_bitfile():
    """Weights the fit put in UltraRAM (allowed by the headroom) stop a bitfile in one line naming the layer: UltraRAM
    powers up zero and the shell cannot load it; the other targets keep it, and block RAM and DDR pass."""
    b = replace(board("KV260"), bram36=0, lut=2000)
    model = fit(chain(), b, Headroom(uram=1.0))[0]
    with pytest.raises(XnorflowError, match=r"layer MVAU_\d+ \(MVAU\): ram_style 'ultra' cannot go into a bitfile"):
        check_placement(model, b, bitfile=True)
    check_placement(model, b)
    check_placement(fit(chain(), board("KV260"))[0], b, bitfile=True)


@pytest.mark.fast
def test_weight_streams_capped_at_the_shell_ports():
    """Fourteen layers whose weights fit nowhere on chip: the fit folds coarser rather than stream more than the
    shell's MAX_WEIGHT_PORTS from DDR, or says in one line that it cannot."""
    model = chain(layers=(([1], 256, 256, "BIPOLAR"),) * 14)
    budget = Budget(lut=12000, bram36=0, ddr_bytes_per_cycle=50.0, port_bytes_per_cycle=12.8)
    try:
        fitted = fit(model, budget)[0]
    except XnorflowError as exc:
        assert f"more than the shell's {MAX_WEIGHT_PORTS} weight ports" in str(exc)
    else:
        assert sum(placement(n) == DDR for n in weight_nodes(fitted)) <= MAX_WEIGHT_PORTS


@pytest.mark.fast
def test_ddr_layers_charged_their_hp_port():
    """Five equal DDR layers on four HP ports: two share a port (hw/shell.py hp_ports_of, as the block design wires
    them) and HP0 also carries the input frame, so a DDR layer takes its port's load over one port's
    bandwidth."""
    model = chain(layers=(([1], 256, 256, "BIPOLAR"),) * 5)
    for node in weight_nodes(model):
        place(node, DDR)
    budget = Budget(lut=1e6, ddr_bytes_per_cycle=1e6, port_bytes_per_cycle=1.0)
    per_layer = 256 * 256   # words of PE x SIMD = 1 weight bit, a byte each in the shell's layout
    assert sorted(ddr_cycles(model, budget).values()) == [per_layer] * 2 + [per_layer + input_bytes(model)] + [2 * per_layer] * 2
