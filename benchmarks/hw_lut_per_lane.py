"""LUTs per MAC lane (PE x SIMD), Yosys synth_xilinx (xc7): (a) one module alone, xnor_mvu (1-bit) vs mvu at 2 and
4 bits, weights as LUT-ROM; (b) in a design: the XNOR MVAU layers of FINN's CNV-W1A1 at finn-examples' Pynq-Z1
folding (benchmarks/finn_bnn_pynq.py), weights and thresholds where the rom puts them (block or LUT RAM), with
LUT (logic + LUTRAM) per lane per layer and over all of them.

    .venv/bin/python benchmarks/hw_lut_per_lane.py [--no-design]
"""
import argparse
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from common import cpu_seconds, record, yosys_luts
from finn_bnn_pynq import finn_config, hw_build
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from finn.util.settings import initialize_dummy_settings
from xnorflow.build_flows.hw_graph import split_host
from xnorflow.hw.accelerator import fold
from xnorflow.hw.boards import board
from xnorflow.hw.ops import hw_nodes, layer_rtl, module_sources
from xnorflow.hw.ops.common import LayerRTL
from xnorflow.hw.ops.mvau import is_xnor
from xnorflow.hw.resources import bram36, synth_layers
from xnorflow.hw.streams import mem_file
from xnorflow.hw.synth import synthesize

MW, MH, PE, SIMD = 64, 16, 4, 32
NET, BOARD = "cnv_1w1a", "Pynq-Z1"


def per_lane(res: dict, lanes: int) -> dict:
    """Yosys counts with LUTs (logic + LUTRAM) per lane."""
    return {"lut": res["lut"], "lutram": res["lutram"], "ff": res["ff"], "lanes": lanes,
            "lut_per_lane": round(yosys_luts(res) / lanes, 2)}


def lut_per_lane(module: str, bits: int, rng: np.random.Generator) -> dict:
    """Synthesize one MVU (no activation) with random weights as LUT-ROM; LUTs (logic + LUTRAM) per lane."""
    wdt = DataType["BINARY"] if bits == 1 else DataType[f"INT{bits}"]
    rows = rng.integers(int(wdt.min()), int(wdt.max()) + 1, ((MW // SIMD) * (MH // PE), PE * SIMD))
    params = {"MW": MW, "MH": MH, "PE": PE, "SIMD": SIMD, "ACCBITS": 2 * bits + 8, "NTHRES": 0,
              "OBITS": 2 * bits + 8, "WEIGHT_STYLE": "distributed"}
    if module == "mvu":
        params |= {"IBITS": bits, "WBITS": bits, "IKIND": 1, "WKIND": 1}
    res = synthesize(module, module_sources(module), params, {"weights.mem": mem_file(rows, wdt)}, nodsp=True)
    return per_lane(res, PE * SIMD)


def cnv_model(tmp: Path) -> ModelWrapper:
    """CNV-W1A1's HW part at finn-examples' folding."""
    initialize_dummy_settings()
    build = hw_build(NET, tmp)
    config, _ = finn_config(build, NET, tmp / "folding.json")
    return fold(split_host(ModelWrapper(str(build / "hw.onnx")))[1], board(BOARD), str(config))


def xnor_layers(model: ModelWrapper, weight_style: str | None) -> dict[str, LayerRTL]:
    """The RTL of the model's XNOR MVAU layers, by node name, with their weights in FINN's ram_style `weight_style`
    (None: as the folding has them)."""
    layers = {}
    for node in hw_nodes(model):
        inst = getCustomOp(node)
        if node.op_type.startswith("MVAU") and is_xnor(inst):
            if weight_style is not None:
                inst.set_nodeattr("ram_style", weight_style)
            layers[node.name] = layer_rtl(model, node)
    return layers


def in_design(layers: dict[str, LayerRTL], weight_style: str | None) -> dict:
    """Yosys of each layer: LUTs per lane each and overall."""
    counts = synth_layers(SimpleNamespace(layers=layers))
    out = {}
    for name, rtl in layers.items():
        p = rtl.design.params
        out[name] = {"PE": p["PE"], "SIMD": p["SIMD"], "MW": p["MW"], "MH": p["MH"], "NTHRES": p["NTHRES"],
                     "bram36": bram36(counts[name]),
                     **per_lane(counts[name], p["PE"] * p["SIMD"])}
    luts = sum(yosys_luts(v) for v in out.values())
    lanes = sum(v["lanes"] for v in out.values())
    return {"net": NET, "board": BOARD, "weight_style": weight_style or "rom auto", "layers": out, "lut": luts,
            "lanes": lanes, "lut_per_lane": round(luts / lanes, 2),
            "bram36": sum(v["bram36"] for v in out.values())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-design", action="store_true", help="only the modules alone (skip CNV-W1A1)")
    args = parser.parse_args()
    rng, cpu = np.random.default_rng(0), cpu_seconds()
    figures = {"shape": {"MW": MW, "MH": MH, "PE": PE, "SIMD": SIMD},
               "xnor_mvu_1bit": lut_per_lane("xnor_mvu", 1, rng),
               "mvu_2bit": lut_per_lane("mvu", 2, rng), "mvu_4bit": lut_per_lane("mvu", 4, rng)}
    if not args.no_design:
        with tempfile.TemporaryDirectory() as tmp:
            model = cnv_model(Path(tmp))
            figures["cnv_w1a1_xnor_layers"] = in_design(xnor_layers(model, None), None)
            figures["cnv_w1a1_xnor_layers_block_weights"] = in_design(xnor_layers(model, "block"), "block")
    record("hw_lut_per_lane", figures | {"cpu_s": round(cpu_seconds() - cpu, 1)})


if __name__ == "__main__":
    main()
