"""`make demo`: train a tiny model on digits, export, streamline, build RTL, simulate in Verilator (synthesise: --synth).

Every stage is the library's own (the same functions `xnorflow train|build|verify|sim` call); the demo
adds the end-to-end check that the RTL classifies the whole test set exactly as the Brevitas model does.
The RTL is generated once; every later stage opens the build (xnorflow.hw.build). The Verilator model is
compiled in the background while the model trains, from the registry model's untrained weights: a compiled
model depends on the design's shapes and types, not on its weights (memory files are read at run time), so
the trained build finds it in the cache. Each line ends with the stage's wall and CPU seconds (this process
and the tools it ran: g++, Verilator, Yosys; the background build's are in the [warm] line).
"""
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from xnorflow.build_flows.pipeline import build, resolve, verify_build
from xnorflow.chatter import keep, say
from xnorflow.errors import XnorflowError
from xnorflow.hw.accelerator import build_target
from xnorflow.hw.boards import DEFAULT, board as board_spec
from xnorflow.hw.build import open_build
from xnorflow.hw import driver
from xnorflow.hw.resources import fit_verdict, synth_top
from xnorflow.hw.shell_sim import shell_design
from xnorflow.hw.verilator import cached_exe
from xnorflow.training.data import load_dataset
from xnorflow.training.trainer import TrainConfig, run

CLOCK_HZ = 100e6
FOLDING = "4000"  # cycles/frame target: a small design whose Verilator build takes minutes, not tens of them
VERIFY_FRAMES = 64
SIM_FRAMES = 8


class Clock:
    """Wall and CPU seconds (this process and its finished children) since the last lap."""

    def __init__(self) -> None:
        self.start = self.last = self._now()

    @staticmethod
    def _now() -> tuple[float, float]:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter(), own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    @staticmethod
    def _text(since: tuple[float, float], now: tuple[float, float]) -> str:
        return f"({now[0] - since[0]:.1f} s wall, {now[1] - since[1]:.1f} s CPU)"

    def lap(self) -> str:
        """'(W s wall, C s CPU)' since the last lap."""
        now = self._now()
        text, self.last = self._text(self.last, now), now
        return text

    def total(self) -> str:
        """'(W s wall, C s CPU)' since the start."""
        return self._text(self.start, self._now())


def _test_set(data: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = next(iter(DataLoader(load_dataset(data).test, batch_size=100_000)))
    return images.numpy(), labels.numpy()


def _torch_logits(ckpt: Path, images: np.ndarray) -> np.ndarray:
    model = resolve(str(ckpt)).model  # the snapped model that every stage exports and compares against
    with torch.no_grad():
        return model(torch.from_numpy(images)).numpy()


def demo(model: str, data: str, out: str, epochs: int, board: str = DEFAULT, synth: bool = False) -> dict:
    """Run every stage on `model` trained on `data`; print one line per stage and the final verdicts."""
    torch.set_num_threads(1)  # tiny layers: per-op overhead dominates, a second thread mostly spins (3x the CPU)
    root, clock = Path(out), Clock()
    warm = _warm_up(model, board, root)
    try:
        summary = run(TrainConfig(model=model, data=data, out=str(root / "train"), epochs=epochs, batch_size=64))
        ckpt = Path(summary["checkpoint"])
        say(f"[train]  {model} on {data}: test accuracy {summary['test_acc']:.4f} -> {ckpt} {clock.lap()}")
        build_dir = root / "build"
        report = build(str(ckpt), build_dir)
        say(f"[build]  HW-layer graph: {report['hw_layers']} layers -> {build_dir} {clock.lap()}")
        try:
            checked = _check(ckpt, build_dir, data, board, synth, clock, warm)
        finally:
            keep(build_dir / "build.log")  # what the libraries printed, also when a later stage stops
    finally:
        if warm.poll() is None:  # a stage failed before the demo waited for it
            warm.kill()
            warm.wait()
    return {"train": summary, **checked}


def _warm_up(model: str, board: str, root: Path) -> subprocess.Popen:
    """Start `xnorflow build --target sim` of the untrained registry model: it leaves the compiled model in the cache."""
    warm_dir = root / "warmup"
    say(f"[warm]   compiling the Verilator model in the background: {model}'s untrained weights, same design "
        f"-> {warm_dir}")
    cmd = [sys.executable, "-m", "xnorflow.cli", "build", "--model", model, "--target", "sim", "--board", board,
           "--folding", FOLDING, "--frames", "2", "--out", str(warm_dir)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _join(warm: subprocess.Popen, clock: Clock) -> None:
    """Wait for the background build (its CPU counts in this lap); its failure costs only the cache entry."""
    _, err = warm.communicate()
    if warm.returncode:
        say(f"warning: the background build failed, the model is compiled here instead: {err.strip()[-300:]}")
    say(f"[warm]   background build done; waited for it, its CPU included {clock.lap()}")


def _check(ckpt: Path, build_dir: Path, data: str, board: str, synth: bool, clock: Clock,
           warm: subprocess.Popen) -> dict:
    """Verify, build RTL, simulate (and synthesise), one line per stage; an error if the numeric contract broke."""
    arrows, frames_from = verify_build(build_dir, VERIFY_FRAMES, 0)
    say(f"[verify] frames: {frames_from} {clock.lap()}")
    for arrow in arrows:
        say(f"[verify] {arrow}")
    rtl = build_target(build_dir, "rtl", board, FOLDING)["rtl"]
    say(f"[rtl]    {rtl['layers']} layers, folding {rtl['folding']} cycles/frame, bound {rtl['analytical_bound']} "
        f"-> {build_dir / rtl['top']} {clock.lap()}")
    _join(warm, clock)
    built = open_build(build_dir)
    how = "taken from the cache" if built.is_compiled() else "compiled"
    built.compiled()
    say(f"[sim]    Verilator model of the whole design {how} {clock.lap()}")
    sim = build_target(build_dir, "sim", board, FOLDING, SIM_FRAMES)["sim"]  # reuses rtl/: same inputs
    say(f"[sim]    Verilator vs FINN python execution: bit-exact on {sim['frames']} frames (also with input "
        f"gaps and output stalls) {clock.lap()}")
    same = _test_set_line(ckpt, build_dir, data, clock)
    fps = CLOCK_HZ / sim["cycles_per_frame"]
    say(f"[sim]    {sim['cycles_per_frame']:.0f} cycles/frame vs analytical bound {sim['analytical_bound']} "
        f"(ratio {sim['ratio_to_bound']}), latency {sim['latency_cycles']} cycles, {fps:,.0f} frames/s at 100 MHz")
    use = _synth_line(ckpt, build_dir, board, clock) if synth else None
    if not same or not all(a.ok for a in arrows):
        raise XnorflowError("the numeric contract broke in the demo (see the lines above)",
                            "report it with the build directory " + str(build_dir))
    say(f"[done]   every stage {clock.total()}" + ("" if synth else
        "; Yosys synthesis of the whole design (a few CPU-minutes): make demo SYNTH=1 (xnorflow demo --synth)"))
    return {"arrows": [str(a) for a in arrows], "sim": sim, "synth": use}


def _test_set_line(ckpt: Path, build_dir: Path, data: str, clock: Clock) -> bool:
    """The whole test set through the driver (the whole shell in Verilator: register file, DMAs, DDR) and through
    torch; True when every prediction agrees."""
    images, labels = _test_set(data)
    how = "taken from the cache" if cached_exe(shell_design(open_build(build_dir))).is_file() else "compiled"
    with driver.open(build_dir, backend="verilator") as acc:
        say(f"[shell]  Verilator model of the whole shell (register file, DMAs, DDR model) {how} {clock.lap()}")
        rtl_logits = acc.execute(images)
        run = acc.last_run
    torch_logits = _torch_logits(ckpt, images)
    rtl_pred, torch_pred = rtl_logits.argmax(1), torch_logits.argmax(1)
    same = bool((rtl_pred == torch_pred).all())
    max_diff = float(np.abs(rtl_logits - torch_logits).max())
    say(f"[shell]  test accuracy: torch {np.mean(torch_pred == labels):.4f}, RTL {np.mean(rtl_pred == labels):.4f} "
        f"on {len(labels)} images; predictions identical: {same}; max |logit diff| {max_diff:.2g}; one run of "
        f"{run.frames} frames from DDR to DDR in {run.cycles} cycles ({run.frames * CLOCK_HZ / run.cycles:,.0f} "
        f"frames/s at 100 MHz) {clock.lap()}")
    return same


def _synth_line(ckpt: Path, build_dir: Path, board: str, clock: Clock) -> dict:
    """Yosys (synth_xilinx, xc7) LUT/FF/BRAM/DSP of the whole design against the board, in one line."""
    use = fit_verdict(synth_top(open_build(build_dir)), {}, board_spec(board))["use"]
    say(f"[synth]  Yosys synth_xilinx, whole design on {board}: "
        + ", ".join(f"{k.upper()} {u['used']:g} of {u['available']:,} ({u['percent']}%)" for k, u in use.items())
        + f" {clock.lap()} (per layer: xnorflow build --model {ckpt} --target synth --folding {FOLDING} "
        f"--out {build_dir})")
    return use
