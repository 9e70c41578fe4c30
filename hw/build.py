"""A build directory as an artifact: `open_build` reads what the rtl target wrote, and never writes.

The rtl target writes `rtl/design.json` beside the sources: the stitched top's ports, sources and memory
files, the PYNQ shell around it (hw/shell.py: its sources, AXI widths, build ID, DDR frame layouts), each
layer's module (for per-layer synthesis), the folded cycles per layer, the rtl report section, and `inputs`,
a hash of what the RTL was generated from (hw.onnx, folding, board, generator). Simulation, synthesis, the
Vivado script, the driver and the demo open the build through it, so nothing re-stitches; `make_rtl`
regenerates rtl/ only when that hash differs.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from xnorflow.errors import XnorflowError
from xnorflow.hw.ops.common import Port
from xnorflow.hw.verilator import Design, Stream, cached_exe, compile_design

RTL_DIR = "rtl"
MANIFEST = "design.json"
HW_ROOT = Path(__file__).resolve().parent
GENERATOR_SUFFIXES = (".py", ".sv", ".svh", ".v", ".cpp", ".h")
# What reads, runs or implements a build but does not write rtl/: editing it must not change the build ID (and so
# regenerate the RTL and rerun Vivado). The testbenches are part of the compiled models' own cache keys.
NOT_GENERATOR = {"driver.py", "deploy.py", "host_ends.py", "words.py", "shell_sim.py", "layer_sim.py", "synth.py",
                 "model_cache.py", "verilator.py", "vivado.py", "vivado_bd.py", "vivado_reports.py",
                 "vivado_wrapper.py", "rtl/axis_tb.cpp", "rtl/shell_tb.cpp"}


def generator_sources() -> list[Path]:
    """The python and RTL sources of xnorflow.hw that generate rtl/."""
    return sorted(p for p in HW_ROOT.rglob("*") if p.suffix in GENERATOR_SUFFIXES and p.is_file()
                  and p.relative_to(HW_ROOT).as_posix() not in NOT_GENERATOR)


@lru_cache(maxsize=1)
def generator_version() -> str:
    """Hash of the RTL generator: its python and RTL sources (generator_sources)."""
    h = hashlib.sha256()
    for path in generator_sources():
        h.update(str(path.relative_to(HW_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def inputs_key(hw_file: Path, board_name: str, folding: str | None) -> str:
    """Content hash of what rtl/ is generated from: hw.onnx, board, folding (a JSON file by content), generator."""
    folding_text = Path(folding).read_text() if folding and not str(folding).isdigit() else str(folding)
    h = hashlib.sha256()
    for part in (hw_file.read_bytes(), board_name.encode(), folding_text.encode(), generator_version().encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def manifest(rtl_dir: Path) -> dict | None:
    """rtl/design.json of a build, or None where there is none."""
    path = rtl_dir / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def _port(entry: dict) -> Port:
    """A stitched top's port from its manifest entry."""
    return Port(Stream(*entry["stream"]), DataType[entry["dtype"]], tuple(entry["folded"]), tuple(entry["normal"]))


def port_entry(port: Port) -> dict:
    """A port as its manifest entry."""
    return {"stream": [port.stream.name, port.stream.bits], "dtype": port.dtype.name,
            "folded": list(port.folded), "normal": list(port.normal)}


def weight_values_file(port: Port) -> str:
    """The file in rtl/ of a weight stream's values for one frame (its folded shape), which the driver packs."""
    return f"{port.stream.name}.npy"


@dataclass(frozen=True)
class LayerDesign:
    """One layer's module alone, with its memory files: what per-layer synthesis needs."""

    design: Design
    mem_files: dict[str, str]


@dataclass(frozen=True)
class Build:
    """An opened build directory: its stitched design as rtl/ holds it, the report, and its graphs on demand."""

    path: Path
    design: Design
    mem_files: dict[str, str]
    in_port: Port
    out_port: Port
    cycles: dict[str, int]
    layers: dict[str, LayerDesign]
    inputs: str
    shell: Design | None = None           # top xnorflow_shell (AXI ports, no streams); None in builds made before it
    shell_manifest: dict | None = None    # design.json's "shell" entry: widths, build ID, DDR frame layouts
    weight_ports: dict[str, Port] = field(default_factory=dict)   # layer -> its weight stream (top port w<k>_V)

    def hw_graph(self) -> ModelWrapper:
        """hw.onnx: the host ends and the HW part, as FINN executes them."""
        return ModelWrapper(str(self.path / "hw.onnx"))

    def folded(self) -> ModelWrapper:
        """rtl/folded.onnx: the HW part with the folding the RTL was generated from."""
        return ModelWrapper(str(self.path / RTL_DIR / "folded.onnx"))

    def report(self) -> dict:
        """report.json as it is now."""
        return json.loads((self.path / "report.json").read_text())

    def is_compiled(self) -> bool:
        """True when the compiled Verilator model of the top is in the cache."""
        return cached_exe(self.design).is_file()

    def compiled(self) -> Path:
        """The compiled Verilator model of the top (from the cache, which is keyed by the sources' content)."""
        return compile_design(self.design)


def _files(rtl: Path, names: list[str]) -> dict[str, str]:
    """Memory files of rtl/ by name."""
    return {name: (rtl / name).read_text() for name in names}


def _layer(rtl: Path, entry: dict) -> LayerDesign:
    """One layer's module from its manifest entry."""
    design = Design(entry["top"], tuple(rtl / s for s in entry["sources"]), (), (), entry["params"])
    return LayerDesign(design, _files(rtl, entry["mem_files"]))


def open_build(build_dir: str | Path) -> Build:
    """Open a build directory that holds RTL, read-only; one XnorflowError when it has none."""
    path = Path(build_dir).resolve()
    rtl = path / RTL_DIR
    found = manifest(rtl)
    if found is None or not (path / "hw.onnx").is_file():
        raise XnorflowError(f"{build_dir} has no RTL (no {RTL_DIR}/{MANIFEST})",
                            f"run `xnorflow build --target rtl --out {build_dir}` first")
    top = found["top"]
    weights = {name: _port(e) for name, e in top.get("weight_ports", {}).items()}
    design = Design(top["module"], tuple(rtl / s for s in top["sources"]),
                    (Stream(*top["in_port"]["stream"]), *(p.stream for p in weights.values())),
                    (Stream(*top["out_port"]["stream"]),))
    shell = found.get("shell")
    return Build(path, design, _files(rtl, top["mem_files"]), _port(top["in_port"]), _port(top["out_port"]),
                 found["cycles"], {name: _layer(rtl, e) for name, e in found["layers"].items()},
                 found["inputs"], _shell_design(rtl, shell), shell, weights)


def _shell_design(rtl: Path, entry: dict | None) -> Design | None:
    """The shell around the stitched top (ports are AXI, not streams), from its manifest entry."""
    return None if entry is None else Design(entry["module"], tuple(rtl / s for s in entry["sources"]), (), ())
