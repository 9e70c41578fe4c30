"""Orchestration behind `xnorflow export|build|verify`: resolve NAME|CKPT|file.onnx, run the stages into one build dir.

A build directory is self-describing: its report.json records the source (registry name and seed, checkpoint
path and hash, or QONNX file), so `verify` can rebuild the Brevitas reference and walk the contract later.
"""
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from qonnx.core.modelwrapper import ModelWrapper
from torch import nn

from xnorflow.build_dir import replacing
from xnorflow.build_flows.export import export, exported_here
from xnorflow.build_flows.hw_graph import write_hw_graph
from xnorflow.build_flows.verify import Arrow, random_frames, verify
from xnorflow.chatter import say
from xnorflow.errors import XnorflowError
from xnorflow.training.hyperconv import materialize
from xnorflow.training.layers import QuantSpec
from xnorflow.training.requant import SnapReport, snap_requantizers

@dataclass
class Source:
    """What a build starts from: a Brevitas model (registry name or checkpoint) or an external QONNX file."""

    kind: str  # "name" | "checkpoint" | "onnx"
    ref: str
    model: nn.Module | None
    input_shape: tuple[int, ...]
    data: str | None = None
    record: dict = field(default_factory=dict)
    requant: dict = field(default_factory=dict)  # what snapping the rounding points changed (training/requant.py)


def resolve(ref: str, options: dict[str, bool] | None = None, seed: int = 0) -> Source:
    """NAME (initial weights, seeded) | CKPT (xnorflow checkpoint) | file.onnx (QONNX) -> Source, in eval mode."""
    path = Path(ref)
    if ref.endswith(".onnx"):
        return onnx_source(path)
    if path.is_file() or ref.endswith((".pt", ".pth")):
        return checkpoint_source(path)
    return name_source(ref, options, seed)


def onnx_source(path: Path) -> Source:
    """An external QONNX file: no Brevitas reference; its graph input gives the shape."""
    if not path.is_file():
        raise XnorflowError(f"QONNX file {path} does not exist", "pass an .onnx exported by `xnorflow export` or Brevitas")
    try:
        model = ModelWrapper(str(path))
    except Exception as exc:  # onnx raises DecodeError or ValueError depending on how the file is broken
        raise XnorflowError(f"{path} is not a readable ONNX model ({type(exc).__name__})",
                            "pass an .onnx exported by `xnorflow export` or Brevitas' export_qonnx") from None
    if not model.graph.input or not model.graph.node:
        raise XnorflowError(f"{path} holds no graph (no inputs or no nodes)", "export the model again")
    shape = tuple(model.get_tensor_shape(model.graph.input[0].name))
    return Source("onnx", str(path.resolve()), None, shape, record={"onnx": str(path.resolve())})


def checkpoint_source(path: Path) -> Source:
    """An xnorflow checkpoint: its model, input geometry and (where recorded) data set."""
    from xnorflow.training.checkpoint import load_model

    model, ckpt = load_model(path)
    shape = (1, ckpt["in_channels"], ckpt["input_size"], ckpt["input_size"])
    record = {"checkpoint": str(path.resolve()), "sha256": file_hash(path)}
    model, snapped = inference_model(model, QuantSpec(**ckpt["spec"]))
    return Source("checkpoint", str(path), model, shape, checkpoint_data(path, ckpt), record, asdict(snapped))


def inference_model(model: nn.Module, spec: QuantSpec) -> tuple[nn.Module, SnapReport]:
    """What every stage exports and compares against: generated kernels baked in, rounding points snapped."""
    model = materialize(model).eval()
    report = snap_requantizers(model, spec)
    if report.unsafe:
        say(f"warning: {len(report.unsafe)} channels have a multiplier below float32's safe margin "
            f"(e.g. {report.unsafe[0]}): their rounding may differ between stages on a near-tie")
    return model, report


def name_source(name: str, options: dict[str, bool] | None, seed: int) -> Source:
    """A registry model (or a family's default model) with its initial weights (torch seeded with `seed`) at its
    default input."""
    from xnorflow.training.models.catalog import entry, registry_name
    from xnorflow.training.models.registry import build_model

    name = registry_name(name)
    row = entry(name)
    torch.manual_seed(seed)
    model, snapped = inference_model(build_model(name, options=options), QuantSpec())
    shape = (1, row.in_channels, row.input_size, row.input_size)
    return Source("name", name, model, shape, record={"model": name, "seed": seed, "options": options or {}},
                  requant=asdict(snapped))


def from_record(record: dict) -> Source:
    """Rebuild the Source a build recorded in its report.json (the checkpoint must be unchanged)."""
    if "onnx" in record:
        return onnx_source(Path(record["onnx"]))
    if "checkpoint" in record:
        path = Path(record["checkpoint"])
        if path.is_file() and file_hash(path) != record["sha256"]:
            raise XnorflowError(f"checkpoint {path} changed since this build", "rebuild with `xnorflow build`")
        return checkpoint_source(path)
    return name_source(record["model"], record["options"] or None, record["seed"])


def file_hash(path: Path) -> str:
    """sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def checkpoint_data(path: Path, ckpt: dict) -> str | None:
    """The data set a checkpoint was trained on: its own record, or the run's config.json beside it."""
    if ckpt.get("data"):
        return ckpt["data"]
    for folder in (path.parent, path.parent.parent):
        config = folder / "config.json"
        if config.is_file():
            return json.loads(config.read_text()).get("data")
    return None


def export_file(ref: str, out: str | Path, options: dict[str, bool] | None = None) -> Path:
    """`xnorflow export`: QONNX of a checkpoint or registry model at `out`, written atomically."""
    out = Path(out)
    if out.suffix != ".onnx":
        raise XnorflowError(f"--out {out} does not end in .onnx", "name the QONNX file to write, e.g. --out model.onnx")
    if out.exists() and not exported_here(out):
        raise XnorflowError(f"--out {out} exists and was not written by `xnorflow export`",
                            "name a new file (xnorflow overwrites only its own exports)")
    src = resolve(ref, options)
    if src.model is None:
        raise XnorflowError(f"{ref} is already an ONNX file", "pass a checkpoint (model.pt) or a registry name")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        export(src.model, src.input_shape, Path(tmp) / "model.onnx")
        os.replace(Path(tmp) / "model.onnx", out)
    return out


def build(ref: str, out_dir: str | Path, options: dict[str, bool] | None = None, seed: int = 0) -> dict:
    """`xnorflow build --target hw-graph` into `out_dir` (replacing only an earlier xnorflow build); the report."""
    src = resolve(ref, options, seed)
    with replacing(out_dir) as tmp:
        return build_staged(src, tmp, Path(out_dir).resolve())


def build_staged(src: Source, tmp: Path, final: Path) -> dict:
    """Export `src` (unless it is QONNX) and write its HW graph into staging directory `tmp` bound for `final`."""
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        onnx = Path(src.ref)
        if src.model is not None:
            onnx = Path(scratch) / "model.onnx"
            export(src.model, src.input_shape, onnx)
        meta = {"source": src.record, "requant": src.requant, "input_shape": list(src.input_shape),
                "data": src.data, "export_seconds": round(time.perf_counter() - began, 3)}
        return write_hw_graph(onnx, tmp, final, meta)


def frames_for(src: Source, qonnx: Path, n: int, seed: int) -> tuple[np.ndarray, str]:
    """Test images of the source's data set where it is at hand, else random frames on the input grid."""
    if src.data:
        from xnorflow.training.data import load_dataset

        try:
            test = load_dataset(src.data).test
            count = min(n, len(test))
            return torch.stack([test[i][0] for i in range(count)]).numpy(), f"{src.data} test images"
        except XnorflowError:
            pass
    return random_frames(src.input_shape, n, input_scale(qonnx), seed), "random inputs on the input grid"


def input_scale(qonnx: Path) -> float:
    """Scale of the Quant on the graph input (2^-4 where there is none)."""
    model = ModelWrapper(str(qonnx))
    for node in model.find_consumers(model.graph.input[0].name):
        if node.op_type == "Quant":
            return float(model.get_initializer(node.input[1]).flat[0])
    return 2.0 ** -4


def verify_artifact(artifact: str | Path, frames: int = 32, seed: int = 0,
                    options: dict[str, bool] | None = None) -> tuple[list[Arrow], str]:
    """`xnorflow verify`: a build dir, or NAME|CKPT|.onnx built into a temporary one; (arrows, frame source)."""
    path = Path(artifact)
    if (path / "report.json").is_file():
        return verify_build(path, frames, seed)
    if path.is_dir():
        raise XnorflowError(f"{artifact} is a folder without report.json, not a build directory",
                            "pass a directory written by `xnorflow build`, or NAME|CKPT|file.onnx")
    with tempfile.TemporaryDirectory() as tmp:
        build(str(artifact), Path(tmp) / "build", options, seed)
        return verify_build(Path(tmp) / "build", frames, seed)


def verify_build(build_dir: Path, frames: int, seed: int) -> tuple[list[Arrow], str]:
    """Rebuild the recorded source and compare it with every stage of `build_dir`."""
    rep = json.loads((build_dir / "report.json").read_text())
    src = from_record(rep["source"])
    x, what = frames_for(src, build_dir / "qonnx.onnx", frames, seed)
    return verify(src.model, build_dir, x), what
