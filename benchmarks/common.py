"""Benchmark plumbing: print a figure and write it as JSON under benchmarks/results/; run a measurement in a fresh
process."""
import json
import multiprocessing as mp
import platform
import queue as queue_module
import resource
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def record(name: str, figures: dict) -> dict:
    """Print `figures` and write benchmarks/results/<name>.json with machine info."""
    RESULTS.mkdir(exist_ok=True)
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.machine(),
               "cpus": torch.get_num_threads(), "torch": torch.__version__, **figures}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1))
    print(json.dumps(payload, indent=1))
    return payload


def in_child(target: Callable[[str, mp.Queue], None], name: str) -> dict:
    """Run target(name, queue) in a fresh spawned process (its own peak memory and CPU time); what it put on queue,
    or an error figure if the process died without a result (killed for memory, say)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=target, args=(name, queue))
    child.start()
    while True:
        try:
            result = queue.get(timeout=5)
            break
        except queue_module.Empty:
            if not child.is_alive():
                result = {"error": f"{name}: the measuring process exited with code {child.exitcode}"}
                break
    child.join()
    return result


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (Verilator, g++, Yosys)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def yosys_luts(counts: dict) -> int:
    """Yosys LUTs: logic plus LUT RAM."""
    return counts["lut"] + counts["lutram"]
