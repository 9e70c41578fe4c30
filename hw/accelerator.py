"""The accelerator targets of `xnorflow build` (rtl, sim, synth, bitfile) and `xnorflow sim`.

From the directory build_hw_graph wrote: take the HW part of hw.onnx, fold it (board budget,
cycles target or a FINN folding JSON), insert FINN's width converters, stitch one top module,
simulate it in Verilator against FINN's python execution of hw.onnx bit for bit, synthesise with
Yosys, and build the PYNQ overlay's bitfile with Vivado where it is installed (hw/vivado.py). rtl/ is
written into a staging directory renamed at the end
(only when its inputs changed, see build.py), and report.json is replaced atomically, so nothing
half-written looks complete. Every later stage reads the build through open_build.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from qonnx.core.datatype import BaseDataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp

from finn.util.settings import initialize_dummy_settings
from xnorflow.build_dir import MARKER, STAGING, clean_stale, publish, stage
from xnorflow.build_flows.hw_graph import split_host
from xnorflow.errors import FlowStopped, XnorflowError
from xnorflow.hw import driver
from xnorflow.hw.board_fit import check_placement, fit_board, fit_report
from xnorflow.hw.boards import Board, board
from xnorflow.hw.build import (MANIFEST, RTL_DIR, Build, inputs_key, manifest, open_build, port_entry,
                               weight_values_file)
from xnorflow.hw.folding import (analytical_bound, apply_config, check_folding, check_folding_arg, fold_for_cycles,
                                 folding_config, insert_dwcs, split_forks)
from xnorflow.hw.ops.mvau import weight_stream
from xnorflow.hw.resources import fit_verdict, memory_verdict, synth_layers, synth_top
from xnorflow.hw.shell import write_shell
from xnorflow.hw.stitch import TOP, Stitched, ident, renamed, stitch
from xnorflow.hw.streams import pack_words, random_tensor, unpack_words
from xnorflow.hw.verilator import SimResult, SimulationDeadlock, simulate
from xnorflow.hw.vivado import bitfile_flow

TARGETS = ("rtl", "sim", "synth", "bitfile")
GAPS = {"seed": 7, "in_gap": 0.3, "out_stall": 0.3}


def fold(model: ModelWrapper, b: Board, folding: str | None) -> ModelWrapper:
    """Fold the HW part: fit to the board (None), a cycles/frame target ("1200"), or a FINN JSON path."""
    model = split_forks(model)
    if folding is None:
        model = fit_board(model, b)
    elif str(folding).isdigit():
        model = fold_for_cycles(model, int(folding))
    else:
        model = apply_config(model, folding)
    check_folding(model)
    check_placement(model, b)
    return insert_dwcs(model)


def random_frames(model: ModelWrapper, frames: int, seed: int) -> np.ndarray:
    """Random integer frames over the full range of the HW input's data type."""
    name = model.graph.input[0].name
    dt, shape = model.get_tensor_datatype(name), model.get_tensor_shape(name)
    return random_tensor(np.random.default_rng(seed), dt, (frames, *shape))


def reference(model: ModelWrapper, xs: np.ndarray) -> np.ndarray:
    """FINN's python execution of the HW graph, frame by frame."""
    initialize_dummy_settings()
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    return np.stack([execute_onnx(model, {name_in: x})[name_out] for x in xs])


def _words(xs: np.ndarray, shape: tuple, dtype: BaseDataType) -> np.ndarray:
    """Frames packed into stream words of a port's folded shape."""
    return np.concatenate([pack_words(x.reshape(shape), dtype) for x in xs])


def _weight_words(st: Build, frames: int) -> dict[str, np.ndarray]:
    """Each weight stream's words for `frames` frames: its layer's weight frame (rtl/<stream>.npy) once per frame."""
    words = {}
    for port in st.weight_ports.values():
        values = np.load(st.path / RTL_DIR / weight_values_file(port))
        words[port.stream.name] = np.tile(pack_words(values.reshape(port.folded), port.dtype), (frames, 1))
    return words


def run_design(st: Build, xs: np.ndarray, **kwargs) -> tuple[np.ndarray, SimResult]:
    """Simulate the stitched design on frames; returns outputs (frames, *normal) and stats."""
    p_in, p_out = st.in_port, st.out_port
    words = {"in0_V": _words(xs, p_in.folded, p_in.dtype), **_weight_words(st, len(xs))}
    timeout = 20000 + 4 * sum(st.cycles.values())
    try:
        res = simulate(st.design, words, {"out0_V": p_out.words * len(xs)}, st.mem_files,
                       timeout=timeout, **kwargs)
    except SimulationDeadlock as exc:
        raise SimulationDeadlock(exc.problem, "deepen that FIFO (hw/fifo_depths.py sizes it) and report the model "
                                 "and folding (rtl/folding.json)") from None
    ys = unpack_words(res.outputs["out0_V"], p_out.dtype, (len(xs), *p_out.folded))
    return ys.reshape(len(xs), *p_out.normal), res


def check_equal(ys: np.ndarray, refs: np.ndarray, what: str) -> None:
    """Raise naming the first frame and word where simulation and FINN differ."""
    bad = np.argwhere(ys.reshape(len(ys), -1) != refs.reshape(len(refs), -1))
    if len(bad):
        f, w = bad[0]
        raise XnorflowError(f"{what}: RTL output differs from FINN's python execution at frame {f}, "
                            f"element {w} ({ys.reshape(len(ys), -1)[f, w]} vs {refs.reshape(len(refs), -1)[f, w]}; "
                            f"{len(bad)} elements differ)", "report the model and folding (rtl/folding.json)")


def steady_cycles(st: Build, xs: np.ndarray, full: SimResult) -> float:
    """Cycles per frame once the pipeline is full: the frames run twice in a row, the last output less `full`'s
    (the frames once), over their count. The FIFOs fill over the first frames, which take longer; the timing
    does not depend on the data."""
    _, twice = run_design(st, np.concatenate([xs, xs]))
    return (twice.last_out - full.last_out) / len(xs)


def sim_report(st: Build, ref_model: ModelWrapper, frames: int, seed: int = 0) -> dict:
    """Bit-exact check at full rate and with gaps/stalls; steady-state cycles/frame, latency, ratio to the bound."""
    frames = max(frames, 2)
    xs = random_frames(ref_model, frames, seed)
    refs = reference(ref_model, xs)
    _, one = run_design(st, xs[:1])
    ys, full = run_design(st, xs)
    check_equal(ys, refs, "full-rate simulation")
    ys_gaps, gaps = run_design(st, xs, **GAPS)
    check_equal(ys_gaps, refs, "simulation with input gaps and output stalls")
    per_frame = steady_cycles(st, xs, full)
    bound = max(st.cycles.values())
    return {"frames": frames, "bit_exact": True, "cycles_per_frame": per_frame, "latency_cycles": one.last_out + 1,
            "analytical_bound": bound, "ratio_to_bound": round(per_frame / bound, 4),
            "slowest_layer": max(st.cycles, key=st.cycles.get),
            "sim_cycles_per_second": round(full.cycles_per_second), "gaps": {**GAPS, "cycles": gaps.cycles}}


def update_report(build_dir: Path, section: str, content: dict) -> None:
    """Set report.json[section], written to a temporary file and renamed."""
    path = build_dir / "report.json"
    rep = json.loads(path.read_text()) if path.exists() else {}
    rep[section] = content
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rep, indent=1, default=str))
    os.replace(tmp, path)


def make_rtl(build_dir: Path, b: Board, folding: str | None, previous: Path | None = None) -> dict:
    """Write build_dir/rtl unless it was generated from the same inputs (or copy `previous`'s that was); its report."""
    hw_file = build_dir / "hw.onnx"
    if not hw_file.exists():
        raise XnorflowError(f"{hw_file} does not exist", "run `xnorflow build --target hw-graph` first")
    key = inputs_key(hw_file, b.name, folding)
    final = build_dir / RTL_DIR
    if _generated_from(final, key):
        return manifest(final)["report"]
    clean_stale(final)
    tmp = stage(final)
    try:
        if previous is not None and _generated_from(previous / RTL_DIR, key):
            copy_rtl(previous / RTL_DIR, tmp)
        else:
            generate_rtl(tmp, split_host(ModelWrapper(str(hw_file)))[1], b, folding, key)
        publish(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest(final)["report"]


def _generated_from(rtl: Path, key: str) -> bool:
    """True when the rtl/ directory `rtl` was generated from the inputs hashed as `key`."""
    found = manifest(rtl)
    return found is not None and found["inputs"] == key


def copy_rtl(src: Path, out: Path) -> None:
    """The files of another build's rtl/ (generated from the same inputs) into staging directory `out`."""
    for f in src.iterdir():
        if f.is_file() and f.name not in (MARKER, STAGING):
            shutil.copy2(f, out / f.name)


def generate_rtl(out: Path, part: ModelWrapper, b: Board, folding: str | None, key: str) -> None:
    """Fold and stitch the HW part into `out`: sources, top, the shell around it, memory files, folded graph,
    folding JSON, manifest."""
    model = fold(part, b, folding)
    st = stitch(model, out)
    shell, shell_entry = write_shell(out, st.in_port, st.out_port, st.design.sources, b, key,
                                     tuple(st.weight_ports.values()))
    for src in shell.sources:
        if Path(src).parent != out:
            shutil.copy(src, out / Path(src).name)
    for name, text in st.mem_files.items():
        (out / name).write_text(text)
    for name, port in st.weight_ports.items():  # what the driver packs into the weight buffer
        node = model.get_node_from_name(name)
        np.save(out / weight_values_file(port), weight_stream(model.get_initializer(node.input[1]), getCustomOp(node)))
    model.save(str(out / "folded.onnx"))
    (out / "folding.json").write_text(json.dumps(folding_config(model), indent=1))
    rep = {"board": b.name, "folding": _folding_name(folding), "layers": len(st.layers),
           "analytical_bound": analytical_bound(model), "cycles_per_layer": st.cycles,
           "fifos": {e.tensor: e.depth for e in st.edges}, "top": f"{RTL_DIR}/{TOP}.sv",
           "folding_config": f"{RTL_DIR}/folding.json", "fit": fit_report(model, b)}
    (out / MANIFEST).write_text(json.dumps(design_manifest(st, rep, key, shell_entry), indent=1))


def _folding_name(folding: str | None) -> str:
    """How the report names the folding: the cycles target, or where it came from (a user's file may go away)."""
    if folding is None:
        return "fitted to board"
    return folding if str(folding).isdigit() else f"FINN config {Path(folding).name} (copied to {RTL_DIR}/folding.json)"


def design_manifest(st: Stitched, rep: dict, key: str, shell: dict) -> dict:
    """rtl/design.json: what open_build needs of the stitched design and of the shell around it (hw/shell.py's
    entry), with file names relative to rtl/."""
    layers = {}
    for name, rtl in st.layers.items():
        params, files = renamed(rtl, ident(name))
        layers[name] = {"top": rtl.design.top, "sources": [Path(s).name for s in rtl.design.sources],
                        "params": params, "mem_files": list(files)}
    top = {"module": st.design.top, "sources": [Path(s).name for s in st.design.sources],
           "mem_files": list(st.mem_files), "in_port": port_entry(st.in_port), "out_port": port_entry(st.out_port),
           "weight_ports": {name: port_entry(p) | {"values": weight_values_file(p)}
                            for name, p in st.weight_ports.items()}}
    return {"inputs": key, "report": rep, "top": top, "cycles": st.cycles, "layers": layers, "shell": shell}


def synth_report(st: Build, b: Board) -> dict:
    """Yosys per layer and for the whole design, against the board."""
    per_layer = synth_layers(st)
    total = synth_top(st)
    return {"total": total, "per_layer": per_layer, **fit_verdict(total, per_layer, b)}


def build_target(hw_build_dir: Path, target: str, board_name: str, folding: str | None = None,
                 frames: int = 8, previous: Path | None = None) -> dict:
    """Run `target` (rtl, sim, synth, bitfile) on a hw-graph build directory; returns its report sections.

    rtl/ and the synthesis report are reused when they (or `previous`'s, an earlier build of the same output)
    come from the same inputs. The bitfile step does not wait for Yosys: the folding fitted the design to the
    board, the memory check stops what cannot fit at once, and Vivado reports the real utilisation."""
    if target not in TARGETS:
        raise XnorflowError(f"unknown target '{target}'", f"use one of: hw-graph, {', '.join(TARGETS)}")
    build_dir, b, folding = Path(hw_build_dir).resolve(), board(board_name), check_folding_arg(folding)
    if target in ("synth", "bitfile"):
        check_memory(build_dir, b)
    initialize_dummy_settings()
    out = {"rtl": make_rtl(build_dir, b, folding, previous)}
    update_report(build_dir, "rtl", out["rtl"])
    built = open_build(build_dir)
    if target == "sim":
        out["sim"] = sim_report(built, reference_part(built), frames)
    if target == "synth":
        out["synth"] = cached_synth(built, previous) or {**synth_report(built, b), "inputs": built.inputs}
    for section in set(out) - {"rtl"}:
        update_report(build_dir, section, out[section])
    if "synth" in out and not out["synth"]["fits"]:
        raise FlowStopped(*out["synth"]["message"].split("; ", 1))
    if target == "bitfile":
        check_placement(built.folded(), b, bitfile=True)
        out["bitfile"], stop = bitfile_flow(build_dir, b, previous)
        update_report(build_dir, "bitfile", out["bitfile"])
        if stop is not None:
            raise stop
    return out


def check_memory(build_dir: Path, b: Board) -> None:
    """Stop at once where the hw-graph's thresholds and requantiser constants cannot fit the board's on-chip memory
    (weights may stream from DDR)."""
    path = build_dir / "report.json"
    rep = json.loads(path.read_text()) if path.is_file() else {}
    why = memory_verdict(rep.get("threshold_memory_bits", 0) + rep.get("requantizer_memory_bits", 0), b)
    if why is not None:
        raise FlowStopped(*why.split("; ", 1))


def cached_synth(built: Build, previous: Path | None) -> dict | None:
    """The synthesis report of this build (or of `previous`) when it was made from the same RTL inputs."""
    for path in (built.path, previous):
        report = Path(path or "") / "report.json"
        if path is not None and report.is_file():
            synth = json.loads(report.read_text()).get("synth")
            if synth and synth.get("inputs") == built.inputs:
                return synth
    return None


def reference_part(built: Build) -> ModelWrapper:
    """The HW part of the build's hw.onnx, unfolded: what FINN's python execution checks the RTL against."""
    return split_host(built.hw_graph())[1]


def simulate_build(build_dir: Path, frames: int = 8) -> dict:
    """`xnorflow sim BUILD_DIR`: re-simulate the RTL a build holds; reads the build and writes nothing into it."""
    initialize_dummy_settings()
    built = open_build(build_dir)
    return sim_report(built, reference_part(built), frames)


def shell_report(build_dir: str | Path, frames: int, seed: int = 0) -> dict:
    """`xnorflow sim --shell`: the whole shell bit-exact against FINN's python execution of the HW graph with a
    stressed DDR, then its frames/s and latency from its own counters with a DDR-like one; writes nothing."""
    part = reference_part(open_build(build_dir))
    xs = random_frames(part, frames, seed)
    with driver.open(build_dir, backend="verilator", timing="stress", seed=seed + 1) as acc:
        ys = acc.run_frames(xs.reshape(frames, *acc.inp.normal[1:]))
    check_equal(ys, reference(part, xs), "whole-shell simulation")
    with driver.open(build_dir, backend="verilator", timing="ddr") as acc:
        figures = acc.throughput_test(frames, seed)
    return {"frames": frames, "bit_exact": True, **{k: figures[k] for k in (
        "cycles", "cycles_per_frame", "frames_per_s", "latency_cycles", "clock_mhz")}}
