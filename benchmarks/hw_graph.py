"""Export + streamline + HW conversion of the full-size models: wall time, peak memory, HW layers, memory bits.

Each model builds in its own child process so that its peak RSS (getrusage in the child) is its own.
Targets: < 2 min and < 8 GiB per model.
"""
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import in_child, record  # noqa: E402

MODELS = ("bireal18-cifar", "reactnet-a-cifar", "reactnet-a")


def build_one(name: str, queue: mp.Queue) -> None:
    """Build `name` (initial weights) into a temporary directory; put its figures on `queue`."""
    from xnorflow.build_flows.pipeline import build

    began = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rep = build(name, Path(tmp) / "build")
        queue.put({"seconds": round(time.perf_counter() - began, 1), "stage_seconds": rep["seconds"],
                   "export_seconds": rep["export_seconds"], "hw_layers": rep["hw_layers"],
                   "weight_memory_bits": rep["weight_memory_bits"],
                   "threshold_memory_bits": rep["threshold_memory_bits"], "cpu_seconds": cpu_seconds(),
                   "peak_rss_gib": peak_gib()})
    except Exception as err:  # a model that fails is a figure too
        queue.put({"seconds": round(time.perf_counter() - began, 1), "cpu_seconds": cpu_seconds(),
                   "peak_rss_gib": peak_gib(), "error": str(err).splitlines()[0]})


def cpu_seconds() -> float:
    """CPU time of this process (user + system): the figure that a loaded machine does not inflate."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 1)


def peak_gib() -> float:
    """Peak resident memory of this process in GiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def measure(name: str) -> dict:
    """build_one in a fresh child process."""
    return in_child(build_one, name)


def main(names: list[str]) -> dict:
    """Measure every model and record benchmarks/results/hw_graph.json."""
    return record("hw_graph", {"targets": {"seconds": 120, "peak_gib": 8},
                               "models": {name: measure(name) for name in names}})


if __name__ == "__main__":
    main(sys.argv[1:] or list(MODELS))
