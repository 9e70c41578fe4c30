"""Calibrate the resource model (hw/resource_model.py) against Yosys: writes hw/ops/calibration.json.

1. Block RAM: rom.sv, ram_sdp.sv (STYLE "auto") and stream_fifo.sv at a few shapes; the smallest depth and bits
   from which Yosys puts each kind of memory (rom, ram, async) on block RAM.
2. LUTs: every op's RTL over a grid of single-node FINN graphs (GRID: MVAU XNOR and multi-bit in every product
   kind, PE/SIMD 1..64, NTHRES 0/1/3/255, rom (depth 9..1152) and weight stream; every data-movement op; stream FIFOs), synthesised
   one by one (hw/synth.py); per model key a non-negative least-squares fit of LUT + LUTRAM on the op's terms.

    .venv/bin/python benchmarks/calibrate_resources.py [--jobs 2] [--refit] [--only KEY ...]

--refit runs no Yosys: it refits the committed JSON's grid counts (after a change of terms, not of RTL).
--only KEY ... synthesises only those model keys' grid layers (an op whose RTL changed, or a new op) and refits.

Rerun it whenever the RTL changes; the held-out check is benchmarks/resource_heldout.py.
"""
import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from common import cpu_seconds, record, yosys_luts
from qonnx.core.datatype import DataType as DT

from xnorflow.hw import resource_model
from xnorflow.hw.ops import hw_nodes, module_sources, op_of
from xnorflow.hw.ops.common import sources
from xnorflow.hw.resource_model import CALIBRATION, COMMAND, fifo_terms
from xnorflow.hw.streams import mem_file
from xnorflow.hw.synth import synthesize

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "hw"))
from finn_dataflow_nodes import (add_model, concat_model, duplicate_model, dwc_model, fmpadding_model,  # noqa: E402
                                 global_acc_pool_model, label_select_model, pool_model, swg_model)
from finn_nodes import mvau_model, thresholding_model  # noqa: E402
from test_channel_gate_mul import gate_model  # noqa: E402
from test_channelwise_lut import lut_model  # noqa: E402
from test_requantize import random_requantizer  # noqa: E402

RNG = np.random.default_rng(0)
MEMORY_SHAPES = ((512, 16), (256, 64), (1024, 16), (2048, 4), (512, 64), (256, 8), (1024, 4))   # (depth, width)
FIFOS = ((8, 2), (32, 2), (64, 16), (256, 32), (2, 256), (512, 8))                     # (width, depth)


def sorted_thresholds(mh: int, n: int, lo: int, hi: int) -> np.ndarray:
    """Random sorted integer thresholds, n per channel, in [lo, hi]."""
    return np.sort(RNG.integers(lo, hi + 1, (mh, n)), axis=1).astype(float)


def mvau(mw: int, mh: int, pe: int, simd: int, idt: str, wdt: str, nthres: int, stream: bool = False):
    """An MVAU graph with random weights; n thresholds (0: no activation) over its accumulator's range."""
    idt, wdt, xnor = DT[idt], DT[wdt], idt == DT["BIPOLAR"] and wdt == DT["BIPOLAR"]
    w = RNG.integers(int(wdt.min()), int(wdt.max()) + 1, (mw, mh)).astype(float)
    if wdt == DT["BIPOLAR"]:
        w = 2 * RNG.integers(0, 2, (mw, mh)) - 1.0
    bound = mw * max(abs(idt.min()), idt.max()) * max(abs(wdt.min()), wdt.max())
    odt = {0: DT["INT32"], 1: DT["BIPOLAR"] if xnor else DT["BINARY"], 3: DT["UINT2"], 255: DT["UINT8"]}[nthres]
    lo = 0 if xnor else -bound
    thr = sorted_thresholds(mh, nthres, lo, bound) if nthres else None
    return mvau_model(mw, mh, pe, simd, idt, wdt, odt, w, thr, DT["INT32"], [1, 4], xnor,
                      mem_mode="external" if stream else "internal_decoupled")


def thresholding(ch: int, pe: int, idt: str, nthres: int):
    """A Thresholding graph with random sorted thresholds over the input's range."""
    idt = DT[idt]
    odt = {1: DT["BINARY"], 3: DT["UINT2"], 255: DT["UINT8"]}[nthres]
    thr = sorted_thresholds(ch, nthres, int(idt.min()), int(idt.max()))
    return thresholding_model(ch, pe, idt, odt, thr, DT["INT32"], [1, 4])


GRID = (
    lambda: mvau(64, 16, 1, 8, "BIPOLAR", "BIPOLAR", 1), lambda: mvau(64, 32, 4, 16, "BIPOLAR", "BIPOLAR", 1),
    lambda: mvau(256, 64, 8, 32, "BIPOLAR", "BIPOLAR", 1), lambda: mvau(576, 64, 16, 32, "BIPOLAR", "BIPOLAR", 1),
    lambda: mvau(288, 64, 32, 32, "BIPOLAR", "BIPOLAR", 1), lambda: mvau(128, 64, 2, 64, "BIPOLAR", "BIPOLAR", 1),
    lambda: mvau(64, 64, 8, 8, "BIPOLAR", "BIPOLAR", 0), lambda: mvau(128, 32, 4, 16, "BIPOLAR", "BIPOLAR", 3),
    lambda: mvau(1152, 128, 4, 32, "BIPOLAR", "BIPOLAR", 1), lambda: mvau(512, 64, 1, 64, "BIPOLAR", "BIPOLAR", 1),
    lambda: mvau(128, 32, 4, 16, "BIPOLAR", "BIPOLAR", 1, stream=True),
    lambda: mvau(27, 64, 16, 3, "UINT8", "BIPOLAR", 1), lambda: mvau(64, 16, 4, 8, "UINT4", "BIPOLAR", 3),
    lambda: mvau(64, 16, 4, 8, "INT2", "INT2", 3), lambda: mvau(32, 16, 2, 8, "INT4", "INT4", 0),
    lambda: mvau(32, 8, 2, 4, "UINT4", "INT4", 3), lambda: mvau(64, 16, 2, 8, "INT8", "INT8", 0),
    lambda: mvau(32, 8, 2, 4, "UINT4", "INT4", 255), lambda: mvau(128, 64, 8, 16, "INT2", "INT2", 1),
    lambda: mvau(32, 8, 2, 4, "INT4", "INT4", 0, stream=True),
    lambda: thresholding(64, 1, "INT16", 1), lambda: thresholding(64, 8, "INT12", 3),
    lambda: thresholding(784, 49, "UINT8", 1), lambda: thresholding(32, 4, "INT8", 255),
    lambda: swg_model((32, 32), 3, 3, (3, 3), (1, 1), DT["UINT8"]),
    lambda: swg_model((16, 16), 64, 32, (3, 3), (1, 1), DT["BINARY"]),
    lambda: swg_model((8, 8), 128, 32, (3, 3), (1, 1), DT["BINARY"]),
    lambda: swg_model((30, 30), 64, 16, (3, 3), (1, 1), DT["BINARY"]),
    lambda: swg_model((16, 16), 64, 64, (2, 2), (2, 2), DT["BINARY"]),
    lambda: swg_model((32, 32), 64, 16, (3, 3), (1, 1), DT["BINARY"], ram_style="auto"),
    lambda: fmpadding_model((8, 8), (1, 1, 1, 1), 16, 4, DT["BINARY"]),
    lambda: fmpadding_model((16, 16), (1, 1, 1, 1), 64, 64, DT["BINARY"]),
    lambda: fmpadding_model((28, 28), (2, 2, 2, 2), 8, 8, DT["INT4"]),
    lambda: pool_model("MaxPool", (2, 2), (8, 8), 64, 16, DT["BINARY"], DT["BINARY"]),
    lambda: pool_model("MaxPool", (2, 2), (4, 4), 128, 128, DT["BINARY"], DT["BINARY"]),
    lambda: pool_model("AccPool", (3, 3), (4, 4), 16, 4, DT["INT4"], DT["INT8"]),
    lambda: global_acc_pool_model([1, 8, 8], 64, 8, DT["INT8"]),
    lambda: global_acc_pool_model([1, 4, 4], 32, 32, DT["INT4"]),
    lambda: duplicate_model([1, 8, 8], 16, 4, DT["BINARY"]), lambda: duplicate_model([1, 4, 4], 64, 64, DT["INT4"]),
    lambda: duplicate_model([1, 4, 4], 32, 8, DT["INT8"]),
    lambda: add_model([1, 4, 4, 16], 4, DT["INT4"], DT["INT4"], DT["INT5"]),
    lambda: add_model([1, 4, 4, 64], 64, DT["INT8"], DT["INT8"], DT["INT9"]),
    lambda: add_model([1, 4, 4, 32], 8, DT["UINT4"], DT["INT8"], DT["INT9"]),
    lambda: concat_model([1, 4, 4], (16, 16), 4, (DT["INT4"], DT["INT4"])),
    lambda: concat_model([1, 4, 4], (64, 64), 64, (DT["BINARY"], DT["BINARY"])),
    lambda: concat_model([1, 4, 4], (32, 16), 8, (DT["INT8"], DT["UINT4"])),
    lambda: label_select_model([1], 10, 1, 1, DT["INT16"]), lambda: label_select_model([1], 64, 8, 1, DT["INT12"]),
    lambda: label_select_model([1], 100, 10, 5, DT["INT16"]),
    lambda: dwc_model([1, 4, 4, 64], 64, 16, DT["BINARY"]), lambda: dwc_model([1, 4, 4, 48], 16, 48, DT["INT4"]),
    lambda: dwc_model([1, 4, 4, 32], 4, 32, DT["INT8"]),
    lambda: lut_model(RNG, [1, 4, 4], 16, 4, DT["INT4"], DT["INT4"]),
    lambda: lut_model(RNG, [1, 4, 4], 64, 8, DT["INT8"], DT["INT8"]),
    lambda: lut_model(RNG, [1, 4, 4], 32, 32, DT["UINT2"], DT["INT5"]),
    lambda: gate_model([1, 4, 4], 16, 4, DT["INT8"], DT["UINT8"], DT["INT16"]),
    lambda: gate_model([1, 4, 4], 32, 32, DT["INT4"], DT["INT4"], DT["INT8"]),
    lambda: gate_model([1, 2, 2], 64, 8, DT["UINT2"], DT["UINT3"], DT["UINT5"]),
    lambda: random_requantizer(RNG, [1, 4, 4], 64, 8, "UINT10", None, 13, 11, "INT8", -128)[0],
    lambda: random_requantizer(RNG, [1, 3, 3], 32, 4, "INT8", None, 6, 4, "INT8", -128)[0],
    lambda: random_requantizer(RNG, [1, 2, 2], 128, 16, "INT16", (-3000, 3000), 16, 14, "UINT8", 0)[0],
    lambda: random_requantizer(RNG, [1, 4], 16, 1, "UINT4", None, 3, 0, "UINT3", 0)[0],
    lambda: random_requantizer(RNG, [1, 4], 16, 4, "UINT2", None, 2, 1, "UINT2", 0)[0],
    lambda: random_requantizer(RNG, [1, 4], 24, 3, "INT24", (-4000000, 3000000), 20, 20, "INT4", -8)[0],
    # MVAU weight roms in logic of depth 16..256 (last, so that the layers above keep their random contents)
    lambda: mvau(256, 16, 8, 32, "BIPOLAR", "BIPOLAR", 1), lambda: mvau(256, 32, 8, 32, "BIPOLAR", "BIPOLAR", 1),
    lambda: mvau(256, 128, 8, 32, "BIPOLAR", "BIPOLAR", 1), lambda: mvau(144, 64, 8, 16, "BIPOLAR", "BIPOLAR", 1),
    lambda: mvau(32, 128, 2, 8, "BIPOLAR", "BIPOLAR", 1),
    lambda: mvau(64, 32, 4, 8, "UINT4", "BIPOLAR", 1), lambda: mvau(64, 16, 2, 8, "INT4", "INT4", 3),
    lambda: mvau(128, 32, 4, 16, "INT2", "INT2", 0), lambda: mvau(32, 16, 4, 4, "INT8", "BIPOLAR", 1),
    lambda: mvau(256, 64, 8, 32, "BIPOLAR", "BIPOLAR", 0), lambda: mvau(144, 16, 1, 36, "BIPOLAR", "BIPOLAR", 0),
    lambda: mvau(392, 32, 8, 49, "BIPOLAR", "BIPOLAR", 1), lambda: mvau(64, 16, 16, 8, "BIPOLAR", "BIPOLAR", 0),
    # threshold (start) roms of 256 and 512 words in logic: PE 1 over many channels, as CNV's last layers
    lambda: mvau(256, 512, 1, 4, "BIPOLAR", "BIPOLAR", 1), lambda: mvau(512, 256, 1, 32, "BIPOLAR", "BIPOLAR", 1),
    lambda: mvau(64, 256, 1, 8, "UINT4", "BIPOLAR", 1),
)


def memory_synth(kind: str, depth: int, width: int) -> dict:
    """Yosys counts of a bare memory of a kind: rom.sv (random contents), ram_sdp.sv or stream_fifo.sv (async)."""
    if kind == "rom":
        rows = RNG.integers(0, 2, (depth, width))
        return synthesize("rom", sources("rom.sv"), {"DEPTH": depth, "W": width, "INIT_FILE": "m.mem"},
                          {"m.mem": mem_file(rows, DT["BINARY"])})
    top = "ram_sdp" if kind == "ram" else "stream_fifo"
    return synthesize(top, sources(f"{top}.sv"), {"DEPTH": depth, "W": width})


def block_ram_rule(found: dict[tuple[int, int], bool]) -> dict[str, int]:
    """The smallest (depth, bits) threshold that sorts every probed shape as Yosys did (most agreeing if none)."""
    candidates = sorted({(d, d * w) for d, w in found})
    def agree(rule: tuple[int, int]) -> int:
        return sum((d >= rule[0] and d * w >= rule[1]) == on for (d, w), on in found.items())
    best = max(candidates, key=lambda r: (agree(r), -r[0], -r[1]))
    return {"min_depth": best[0], "min_bits": best[1], "probes_agreeing": f"{agree(best)}/{len(found)}"}


def layer_synth(model) -> tuple:
    """A grid graph's layer: its op, its design and Yosys's counts of it."""
    node = hw_nodes(model)[0]
    op = op_of(node)
    rtl = op.rtl(model, node)
    return op, rtl, synthesize(rtl.design.top, rtl.design.sources, rtl.design.params, rtl.mem_files)


def layer_point(op, rtl, res: dict) -> tuple[str, dict, int, str]:
    """(model key, terms, Yosys LUTs, label) of one grid layer (terms under the block-RAM rule now written)."""
    label = f"{rtl.design.top} " + " ".join(f"{k}={v}" for k, v in rtl.design.params.items() if isinstance(v, int))
    return op.model_key(rtl), op.model_terms(rtl), yosys_luts(res), label


def fifo_point(width: int, depth: int, res: dict) -> tuple[str, dict, int, str]:
    """(model key, terms, Yosys LUTs, label) of one stream_fifo."""
    return "stream_fifo", fifo_terms(width, depth), yosys_luts(res), f"stream_fifo W={width} DEPTH={depth}"


def write(block_ram: dict, luts: dict, grid_fit: dict) -> None:
    """Write the calibration JSON and make the model read it."""
    CALIBRATION.write_text(json.dumps({"command": COMMAND, "block_ram": block_ram, "luts": luts,
                                       "grid_fit": grid_fit}, indent=1) + "\n")
    resource_model.calibration.cache_clear()


def fit_and_write(block_ram: dict, points: list) -> dict:
    """Fit every model key on its grid points, write the JSON (with each point's Yosys and model LUTs)."""
    luts = {key: resource_model.fit([(terms, lut) for k, terms, lut, _ in points if k == key])
            for key in sorted({p[0] for p in points})}
    write(block_ram, luts, {})
    grid_fit = {label: {"yosys": lut, "model": resource_model.predict(key, terms)}
                for key, terms, lut, label in points}
    write(block_ram, luts, grid_fit)
    return {"block_ram": block_ram, "luts": luts, "grid_points": len(points), "grid_fit": grid_fit}


def refit(only: set[str]) -> None:
    """Refit on the committed grid's Yosys counts with the current terms; layers of the model keys in `only` are
    synthesised again (after a change of their RTL, or a new op)."""
    old, cpu, points = resource_model.calibration(), cpu_seconds(), []
    for model in [make() for make in GRID]:
        node = hw_nodes(model)[0]
        op = op_of(node)
        rtl = op.rtl(model, node)
        if op.model_key(rtl) in only:
            points.append(layer_point(op, rtl, synthesize(rtl.design.top, rtl.design.sources, rtl.design.params,
                                                          rtl.mem_files)))
            continue
        key, terms, _, label = layer_point(op, rtl, {"lut": 0, "lutram": 0})
        points.append((key, terms, old["grid_fit"][label]["yosys"], label))
    for w, d in FIFOS:
        key, terms, _, label = fifo_point(w, d, {"lut": 0, "lutram": 0})
        points.append((key, terms, old["grid_fit"][label]["yosys"], label))
    figures = fit_and_write(old["block_ram"], points)
    record("calibrate_resources_refit",
           figures | {"resynthesised": sorted(only), "cpu_s": round(cpu_seconds() - cpu, 1)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2, help="Yosys runs at a time")
    parser.add_argument("--refit", action="store_true", help="refit the committed grid counts, no Yosys")
    parser.add_argument("--only", nargs="+", default=[], metavar="KEY",
                        help="synthesise only these model keys' grid layers (e.g. requantize), refit the rest")
    args = parser.parse_args()
    if args.refit or args.only:
        refit(set(args.only))
        return
    cpu, kinds = cpu_seconds(), ("rom", "ram", "async")
    shapes = [(k, d, w) for k in kinds for d, w in MEMORY_SHAPES]
    models = [make() for make in GRID]
    with ThreadPoolExecutor(args.jobs) as pool:
        probes = pool.map(lambda s: memory_synth(*s), shapes)
        layers = pool.map(layer_synth, models)
        fifos = pool.map(lambda f: synthesize("stream_fifo", module_sources("stream_fifo"),
                                              {"W": f[0], "DEPTH": f[1]}), FIFOS)
        found = {s: r["ramb18"] + r["ramb36"] > 0 for s, r in zip(shapes, probes)}
        block_ram = {k: block_ram_rule({(d, w): on for (kk, d, w), on in found.items() if kk == k}) for k in kinds}
        write(block_ram, {}, {})
        points = [layer_point(*x) for x in layers] + [fifo_point(*f, r) for f, r in zip(FIFOS, fifos)]
    record("calibrate_resources", fit_and_write(block_ram, points) | {"cpu_s": round(cpu_seconds() - cpu, 1)})


if __name__ == "__main__":
    main()
