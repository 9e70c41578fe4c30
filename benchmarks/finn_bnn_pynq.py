"""FINN's own networks on our RTL: CNV-W1A1 and TFC-W1A1 (Brevitas' BNN-PYNQ models, random weights and BN)
at finn-examples' Pynq-Z1 foldings and at the tool's own board fit, beside FINN's published build.

Per design: cycles/frame in Verilator (bit-exact against FINN's python execution), the analytical bound and
the ratio, frames/s at 100 MHz, and with --synth Yosys's LUT/FF/BRAM36/DSP of the whole design and frames/s
per thousand LUTs. With --synth, CNV-W1A1 is also folded to FINN's own LUT count (the calibrated resource model's
fit to an absolute budget of FINN's published LUTs less our shell's, hw/resources.py Budget), and the table
beside FINN's published build is printed: our core plus the PYNQ shell (benchmarks/shell_resources.py's
Yosys figures) at finn-examples' folding and at FINN's LUT budget.
finn-examples names PE/SIMD for the MVAUs, the sliding windows that feed them, the input
thresholding and the label select; our graph's other layers (max pools as window + Pool) get their fastest
folding, as FINN's unfolded StreamingMaxPool has.

    .venv/bin/python benchmarks/finn_bnn_pynq.py [--nets cnv_1w1a tfc_1w1a] [--synth]
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import cpu_seconds, record, yosys_luts
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from brevitas_examples.bnn_pynq.models import model_with_cfg
from xnorflow.build_flows.export import export
from xnorflow.build_flows.hw_graph import build_hw_graph
from xnorflow.build_flows.hw_graph import split_host
from xnorflow.hw.accelerator import build_target
from xnorflow.hw.boards import board
from xnorflow.hw.folding import folding_config
from xnorflow.hw.board_fit import fit_board
from xnorflow.hw.resources import Budget, bram36
from xnorflow.hw.ops import hw_nodes, op_of
from xnorflow.hw.ops.common import limit

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "build_flows"))
from user_models import randomize  # noqa: E402

CLOCK_HZ = 100e6
SHAPES = {"cnv_1w1a": (1, 3, 32, 32), "tfc_1w1a": (1, 1, 28, 28)}
# finn-examples build/bnn-pynq/folding_config (Pynq-Z1): MVAU (PE, SIMD) in graph order, the SIMD of the
# sliding window feeding each conv MVAU, the PE of the input Thresholding and of the LabelSelect
FINN_FOLDING = {
    "cnv_1w1a": {"MVAU": [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)],
                 "ConvolutionInputGenerator": [3, 32, 32, 32, 32, 32], "Thresholding": [1], "LabelSelect": [1]},
    "tfc_1w1a": {"MVAU": [(16, 49), (8, 8), (8, 8), (10, 8)], "ConvolutionInputGenerator": [],
                 "Thresholding": [49], "LabelSelect": [1]},
}
# FINN's published BNN-PYNQ cnvW1A1 build on the Pynq-Z1 (finn-examples), at 100 MHz
FINN_PUBLISHED = {"cnv_1w1a": {"lut": 26072, "ff": 41312, "bram_tiles": 124, "dsp": 24, "frames_per_s": 3050}}
# our PYNQ shell on the xc7z020 (64-bit AXI), Yosys: benchmarks/shell_resources.py
SHELL = {"lut": 1093, "ff": 1081, "bram36": 0, "dsp": 0}


def hw_build(net: str, tmp: Path) -> Path:
    """The BNN-PYNQ net with random weights and BN through export and the HW-layer graph."""
    model = randomize(model_with_cfg(net, pretrained=False)[0], 0)
    export(model, SHAPES[net], tmp / f"{net}.onnx")
    build_hw_graph(tmp / f"{net}.onnx", tmp / net)
    return tmp / net


def _feeds_mvau(model: ModelWrapper, node) -> bool:
    """True for a sliding window whose consumer is an MVAU (a conv's, not a max pool's)."""
    consumer = model.find_consumer(node.output[0])
    return consumer is not None and op_of(consumer).op_type == "MVAU"


def finn_config(build: Path, net: str, out: Path) -> tuple[Path, list[str]]:
    """A folding-config JSON with finn-examples' PE/SIMD on our node names, other layers at full parallelism;
    and the layers finn-examples folds that our graph leaves to the host (input quantizer, top-1 select)."""
    model = ModelWrapper(str(build / "hw.onnx"))
    given = {op: list(values) for op, values in FINN_FOLDING[net].items()}
    config = {}
    for node in hw_nodes(model):
        op, inst = op_of(node), getCustomOp(node)
        kind = op.op_type
        if kind == "MVAU":
            pe, simd = given["MVAU"].pop(0)
            config[node.name] = {"PE": pe, "SIMD": simd}
        elif kind == "ConvolutionInputGenerator" and _feeds_mvau(model, node):
            config[node.name] = {"SIMD": given[kind].pop(0)}
        elif kind in ("Thresholding", "LabelSelect") and given[kind]:
            config[node.name] = {"PE": given[kind].pop(0)}
        elif op.folding:
            config[node.name] = {attr: limit(inst, what) for attr, what in op.folding}
    left = {op: v for op, v in given.items() if v}
    if left.keys() & {"MVAU", "ConvolutionInputGenerator"}:
        raise RuntimeError(f"{net}: the graph has fewer layers than finn-examples folds: {left}")
    out.write_text(json.dumps(config, indent=1))
    return out, sorted(left)


def measure(build: Path, folding: str | None, synth: bool) -> dict:
    """Simulate (and synthesise) one folding of a build: cycles, ratio, frames/s, resources."""
    began, cpu = time.perf_counter(), cpu_seconds()
    sim = build_target(build, "sim", "Pynq-Z1", folding, frames=3)["sim"]
    fig = {"cycles_per_frame": sim["cycles_per_frame"], "analytical_bound": sim["analytical_bound"],
           "ratio_to_bound": sim["ratio_to_bound"], "slowest_layer": sim["slowest_layer"],
           "frames_per_s": round(CLOCK_HZ / sim["cycles_per_frame"])}
    if synth:
        total = build_target(build, "synth", "Pynq-Z1", folding)["synth"]["total"]
        fig |= {k: total.get(k, 0) for k in ("lut", "lutram", "ff", "ramb36", "ramb18", "dsp")}
        fig["frames_per_s_per_klut"] = round(fig["frames_per_s"] / (yosys_luts(total) / 1000), 1)
    return fig | {"wall_s": round(time.perf_counter() - began, 1), "cpu_s": round(cpu_seconds() - cpu, 1)}


def budget_config(build: Path, lut: int, out: Path) -> Path:
    """A folding-config JSON: the fastest folding whose modelled resources fit `lut` LUTs and the Pynq-Z1's DSPs
    and block RAM (hw/resources.py fit_board with an absolute Budget)."""
    b = board("Pynq-Z1")
    part = split_host(ModelWrapper(str(build / "hw.onnx")))[1]
    out.write_text(json.dumps(folding_config(fit_board(part, Budget(lut, b.dsp, b.bram36))), indent=1))
    return out


def with_shell(fig: dict) -> dict:
    """A design's figures with the shell added: LUT (logic + LUT RAM), FF, BRAM36, DSP, frames/s per kLUT."""
    lut = yosys_luts(fig) + SHELL["lut"]
    return {"cycles_per_frame": fig["cycles_per_frame"], "frames_per_s": fig["frames_per_s"], "lut": lut,
            "ff": fig["ff"] + SHELL["ff"], "bram36": bram36(fig) + SHELL["bram36"],
            "dsp": fig["dsp"] + SHELL["dsp"], "frames_per_s_per_klut": round(fig["frames_per_s"] / (lut / 1000), 1)}


COLUMNS = (("frames_per_s", 9), ("lut", 7), ("ff", 7), ("bram36", 7), ("dsp", 4))   # (figure, print width)
HEADINGS = {"frames_per_s": "frames/s", "lut": "LUT", "ff": "FF", "bram36": "BRAM36", "dsp": "DSP"}


def table_row(name: str, fig: dict) -> str:
    """One printed row of the comparison."""
    return f"{name:36} " + " ".join(f"{fig[k]:>{w}}" for k, w in COLUMNS)


def beside_finn(rows: dict[str, dict]) -> dict:
    """Print our designs (core + shell) beside FINN's published CNV-W1A1 build; each figure's ratio to FINN's."""
    finn = FINN_PUBLISHED["cnv_1w1a"]
    ref = {"frames_per_s": finn["frames_per_s"], "lut": finn["lut"], "ff": finn["ff"], "bram36": finn["bram_tiles"],
           "dsp": finn["dsp"]}
    print(f"{'CNV-W1A1, Pynq-Z1, 100 MHz':36} " + " ".join(f"{HEADINGS[k]:>{w}}" for k, w in COLUMNS))
    print(table_row("FINN published (finn-examples)", ref))
    for name, fig in rows.items():
        print(table_row(name, fig))
    return {name: fig | {"vs_finn": {k: round(fig[k] / ref[k], 3) if ref[k] else None for k in ref}}
            for name, fig in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nets", nargs="*", default=list(SHAPES))
    parser.add_argument("--synth", action="store_true", help="Yosys of each whole design (CPU-minutes)")
    args = parser.parse_args()
    figures = {"finn_published": FINN_PUBLISHED}
    with tempfile.TemporaryDirectory() as tmp:
        for net in args.nets:
            build = hw_build(net, Path(tmp))
            config, on_host = finn_config(build, net, Path(tmp) / f"{net}.folding.json")
            figures[net] = {"finn_examples_folding": measure(build, str(config), args.synth),
                            "board_fit": measure(build, None, args.synth), "finn_layers_on_host": on_host}
            if args.synth and net in FINN_PUBLISHED:
                core_budget = FINN_PUBLISHED[net]["lut"] - SHELL["lut"]
                budget = budget_config(build, core_budget, Path(tmp) / f"{net}.budget.json")
                figures[net]["finn_lut_budget"] = measure(build, str(budget), True) | {"core_lut_budget": core_budget}
                figures[net]["beside_finn"] = beside_finn({
                    "ours + shell, finn-examples folding": with_shell(figures[net]["finn_examples_folding"]),
                    "ours + shell, at FINN's LUT count": with_shell(figures[net]["finn_lut_budget"])})
    record("finn_bnn_pynq", figures)


if __name__ == "__main__":
    main()
