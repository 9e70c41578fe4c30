"""Threshold and table memory of the HW graph with and without integer requantisers (build_flows/requantize.py,
build_flows/piecewise_requantize.py).

Per registry model (initial weights, seed 0): `xnorflow build --target hw-graph` (both passes in: "after"), then
the same streamlined graph converted again with the two-piece pass left out ("thresholds_only") and with both
left out ("before"). Prints and records the Mbit of weights, thresholds, lookup tables and requantiser constants,
and the layers of each kind. Each model runs in its own child process; CPU seconds are the child's.
"""
import multiprocessing as mp
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import in_child, record  # noqa: E402

MODELS = ("reactnet-a", "reactnet-a-cifar", "bireal18-cifar", "real2bin18-cifar", "hyperbnn18-cifar")
MBIT = 1e6
THRESHOLDS, TABLES = "ThresholdsToRequantizers", "TablesToPiecewiseRequantizers"   # the passes in hw_graph.to_hw


def without_passes(streamlined: Path, passes: tuple[str, ...]) -> dict:
    """report() of the HW graph converted from `streamlined` with the named hw_graph passes left out."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.base import Transformation

    from xnorflow.build_flows import hw_graph

    class Unchanged(Transformation):
        def apply(self, model):
            return model, False

    kept = {name: getattr(hw_graph, name) for name in passes}
    try:
        for name in passes:
            setattr(hw_graph, name, Unchanged)
        return hw_graph.report(hw_graph.to_hw(ModelWrapper(str(streamlined))))
    finally:
        for name, transformation in kept.items():
            setattr(hw_graph, name, transformation)


def figures(rep: dict) -> dict:
    """Memory Mbit and layer counts of one report (threshold_mbit counts thresholds and tables, table_mbit the
    ChannelwiseLUT tables among them)."""
    ops = rep["hw_op_types"]
    tables = sum(l.get("threshold_memory_bits", 0) for l in rep["layers"] if l["op_type"] == "ChannelwiseLUT")
    return {"weight_mbit": round(rep["weight_memory_bits"] / MBIT, 3),
            "threshold_mbit": round(rep["threshold_memory_bits"] / MBIT, 3),
            "table_mbit": round(tables / MBIT, 3),
            "requantizer_mbit": round(rep.get("requantizer_memory_bits", 0) / MBIT, 4),
            "requantize_layers": ops.count("Requantize"), "thresholding_layers": ops.count("Thresholding"),
            "table_layers": ops.count("ChannelwiseLUT")}


def measure_one(name: str, queue: mp.Queue) -> None:
    """Build `name` both ways in a temporary directory; put its figures (or its error's first line) on `queue`."""
    from xnorflow.build_flows.pipeline import build

    try:
        with tempfile.TemporaryDirectory() as tmp:
            after = figures(build(name, Path(tmp) / "build"))
            streamlined = Path(tmp) / "build" / "streamlined.onnx"
            result = {"before": figures(without_passes(streamlined, (THRESHOLDS, TABLES))),
                      "thresholds_only": figures(without_passes(streamlined, (TABLES,))), "after": after}
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
