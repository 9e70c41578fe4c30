"""`make demo`: train a tiny model on digits, export, streamline, build RTL, simulate in Verilator, synthesise.

Every stage is the library's own (the same functions `xnorflow train|build|verify|sim` call); the demo
adds the end-to-end check that the RTL classifies the whole test set exactly as the Brevitas model does.
"""
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from xnorflow.build_flows.pipeline import build, resolve, verify_build
from xnorflow.chatter import keep, say
from xnorflow.errors import XnorflowError
from xnorflow.hw.accelerator import build_target, make_rtl
from xnorflow.hw.driver import VerilatorAccelerator
from xnorflow.hw.boards import DEFAULT, board as board_spec
from xnorflow.hw.resources import fit_verdict, synth_top
from xnorflow.training.data import load_dataset
from xnorflow.training.trainer import TrainConfig, run

CLOCK_HZ = 100e6
FOLDING = "4000"  # cycles/frame target: a small design whose Verilator build takes minutes, not tens of them


def _test_set(data: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = next(iter(DataLoader(load_dataset(data).test, batch_size=100_000)))
    return images.numpy(), labels.numpy()


def _torch_logits(ckpt: Path, images: np.ndarray) -> np.ndarray:
    model = resolve(str(ckpt)).model  # the snapped model that every stage exports and compares against
    with torch.no_grad():
        return model(torch.from_numpy(images)).numpy()


def _yosys_use(build_dir: Path, board: str) -> dict:
    """Yosys (synth_xilinx, xc7) LUT/FF/BRAM/DSP of the whole stitched design against the board."""
    b = board_spec(board)
    st, _, _ = make_rtl(build_dir, b, FOLDING)
    return fit_verdict(synth_top(st), {}, b)["use"]


def demo(model: str, data: str, out: str, epochs: int, board: str = DEFAULT) -> dict:
    """Run every stage on `model` trained on `data`; print one line per stage and the final verdicts."""
    root = Path(out)
    summary = run(TrainConfig(model=model, data=data, out=str(root / "train"), epochs=epochs, batch_size=64))
    ckpt = Path(summary["checkpoint"])
    say(f"[train]  {model} on {data}: test accuracy {summary['test_acc']:.4f} -> {ckpt}")
    build_dir = root / "build"
    report = build(str(ckpt), build_dir)
    say(f"[build]  HW-layer graph: {report['hw_layers']} layers -> {build_dir}")
    try:
        checked = _check(ckpt, build_dir, data, board)
    finally:
        keep(build_dir / "build.log")  # what the libraries printed, also when a later stage stops
    return {"train": summary, **checked}


def _check(ckpt: Path, build_dir: Path, data: str, board: str) -> dict:
    """Verify, simulate and synthesise the build, one line per stage; an error if the numeric contract broke."""
    arrows, frames_from = verify_build(build_dir, 64, 0)
    say(f"[verify] frames: {frames_from}")
    for arrow in arrows:
        say(f"[verify] {arrow}")
    hw = build_target(build_dir, "sim", board, FOLDING)
    sim = hw["sim"]
    images, labels = _test_set(data)
    rtl_logits = VerilatorAccelerator(build_dir).execute(images)
    torch_logits = _torch_logits(ckpt, images)
    rtl_pred, torch_pred = rtl_logits.argmax(1), torch_logits.argmax(1)
    same = bool((rtl_pred == torch_pred).all())
    max_diff = float(np.abs(rtl_logits - torch_logits).max())
    say(f"[sim]    Verilator vs FINN python execution: bit-exact on {sim['frames']} frames (also with input "
        f"gaps and output stalls)")
    say(f"[sim]    test accuracy: torch {np.mean(torch_pred == labels):.4f}, RTL {np.mean(rtl_pred == labels):.4f} "
        f"on {len(labels)} images; predictions identical: {same}; max |logit diff| {max_diff:.2g}")
    fps = CLOCK_HZ / sim["cycles_per_frame"]
    say(f"[sim]    {sim['cycles_per_frame']:.0f} cycles/frame vs analytical bound {sim['analytical_bound']} "
        f"(ratio {sim['ratio_to_bound']}), latency {sim['latency_cycles']} cycles, {fps:,.0f} frames/s at 100 MHz")
    use = _yosys_use(build_dir, board)
    say(f"[synth]  Yosys synth_xilinx, whole design on {board}: "
        + ", ".join(f"{k.upper()} {u['used']:g} of {u['available']:,} ({u['percent']}%)" for k, u in use.items())
        + f" (per layer: xnorflow build --model {ckpt} --target synth --folding {FOLDING} --out {build_dir})")
    if not same or not all(a.ok for a in arrows):
        raise XnorflowError("the numeric contract broke in the demo (see the lines above)",
                            "report it with the build directory " + str(build_dir))
    return {"arrows": [str(a) for a in arrows], "sim": sim, "synth": use}
