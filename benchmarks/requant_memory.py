"""Threshold memory of the HW graph with and without integer requantisers (build_flows/requantize.py).

Per registry model (initial weights, seed 0): `xnorflow build --target hw-graph` (the requantisers in), then
the same streamlined graph converted again with the pass left out. Prints and records the Mbit of weights,
thresholds and lookup tables, and requantiser constants, before and after, and the layers converted.
Each model runs in its own child process; CPU seconds are the child's.
"""
import multiprocessing as mp
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import in_child, record  # noqa: E402

MODELS = ("reactnet-a", "bireal18", "reactnet-a-cifar", "bireal18-cifar")
MBIT = 1e6


def without_pass(streamlined: Path) -> dict:
    """report() of the HW graph converted from `streamlined` with the requantiser pass left out."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.base import Transformation

    from xnorflow.build_flows import hw_graph

    class Unchanged(Transformation):
        def apply(self, model):
            return model, False

    hw_graph.ThresholdsToRequantizers = Unchanged
    return hw_graph.report(hw_graph.to_hw(ModelWrapper(str(streamlined))))


def figures(rep: dict) -> dict:
    """Memory Mbit and layer counts of one report."""
    ops = rep["hw_op_types"]
    return {"weight_mbit": round(rep["weight_memory_bits"] / MBIT, 3),
            "threshold_mbit": round(rep["threshold_memory_bits"] / MBIT, 3),
            "requantizer_mbit": round(rep.get("requantizer_memory_bits", 0) / MBIT, 4),
            "requantize_layers": ops.count("Requantize"), "thresholding_layers": ops.count("Thresholding")}


def measure_one(name: str, queue: mp.Queue) -> None:
    """Build `name` both ways in a temporary directory; put its figures (or its error's first line) on `queue`."""
    from xnorflow.build_flows.pipeline import build

    try:
        with tempfile.TemporaryDirectory() as tmp:
            after = figures(build(name, Path(tmp) / "build"))
            result = {"before": figures(without_pass(Path(tmp) / "build" / "streamlined.onnx")), "after": after}
    except Exception as err:  # a model that does not build is a figure too
        result = {"error": str(err).splitlines()[0]}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put(result | {"cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1)})


def measure(name: str) -> dict:
    """measure_one in a fresh child process."""
    return in_child(measure_one, name)


def main(names: list[str]) -> dict:
    """Measure every model (printing each as it is done); record benchmarks/results/requant_memory.json."""
    models = {}
    for name in names:
        models[name] = measure(name)
        print(name, models[name], flush=True)
    return record("requant_memory", {"models": models})


if __name__ == "__main__":
    main(sys.argv[1:] or list(MODELS))
