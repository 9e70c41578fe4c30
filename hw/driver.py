"""The driver of a built accelerator: one register and buffer protocol over the shell, two backends.

`open(build_or_deploy_dir)` gives an Accelerator with `execute(images) -> logits`, `classify(images)` and
`throughput_test()`. The host ends (input quantizer and layout change, logit scale) run in numpy
(host_ends.py), frames are packed into DDR buffers (words.py), and the shell is started and polled through its
AXI4-Lite registers. The backend carries those register and buffer calls: on a PYNQ board the `pynq`
package (Overlay, MMIO, allocate), everywhere else the Verilator model of the whole shell
(xnorflow.hw.shell_sim), so the same protocol code runs in CI as on the board.

This module and its two helpers need only numpy (and pynq on a board): they are copied into deploy folders as
the package `xnorflow_driver`, and import nothing of torch, qonnx or FINN.
"""
from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import XnorflowError
from . import host_ends
from .words import PortLayout

REGISTER_MAP_VERSION = 2
MAGIC = 0x584E464C  # "XNFL"
RUNTIME = "runtime.json"
DESIGN = "rtl/design.json"
BITFILE_DIR = "bitfile"  # a build's bitfile/xnorflow.bit and .hwh, as the bitfile target writes them


class Reg:
    """Byte addresses of the shell's 32-bit AXI4-Lite registers (the map in hw/rtl/axil_regfile.sv's header)."""

    CTRL = 0x00
    STATUS = 0x04
    BUILD_ID_LO = 0x08
    BUILD_ID_HI = 0x0C
    FRAMES = 0x10
    IN_ADDR_LO = 0x14
    IN_ADDR_HI = 0x18
    OUT_ADDR_LO = 0x1C
    OUT_ADDR_HI = 0x20
    CYCLES_LO = 0x24
    CYCLES_HI = 0x28
    LATENCY = 0x2C
    IN_STRIDE = 0x30
    OUT_STRIDE = 0x34
    WEIGHT_PORTS = 0x38
    MAGIC = 0x44
    VERSION = 0x48
    WEIGHT_BASE = 0x50   # weight port k's WEIGHT_ADDR_LO, _HI and WEIGHT_BYTES at WEIGHT_BASE + WEIGHT_STEP k + 0, 4, 8
    WEIGHT_STEP = 0x10

    @staticmethod
    def weight_addr(k: int) -> int:
        """WEIGHT_ADDR_LO of weight port k (WEIGHT_ADDR_HI follows it)."""
        return Reg.WEIGHT_BASE + Reg.WEIGHT_STEP * k

    @staticmethod
    def weight_bytes(k: int) -> int:
        """WEIGHT_BYTES of weight port k: its weight frame's stride in DDR."""
        return Reg.weight_addr(k) + 8


START = 1
DONE, BUSY, ERROR = 1, 2, 4  # STATUS bits


class Buffer(Protocol):
    """A DDR buffer as pynq.allocate returns it: a uint8 numpy array with a bus address and cache calls."""

    device_address: int

    def flush(self) -> None: ...

    def invalidate(self) -> None: ...


class Backend(Protocol):
    """What the protocol needs of a board or simulator: registers, buffers, waiting, closing."""

    def write(self, addr: int, value: int) -> None: ...

    def read(self, addr: int) -> int: ...

    def allocate(self, nbytes: int) -> Buffer: ...

    def wait(self, cycles: int) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RunStats:
    """One run of the shell as its counters report it."""

    frames: int
    cycles: int
    latency: int


class Accelerator:
    """A build's accelerator behind a backend: the register protocol, DDR buffers, host ends."""

    def __init__(self, runtime: dict, backend: Backend, source: str = "") -> None:
        self.runtime, self.backend = runtime, backend
        self.inp, self.out = PortLayout.from_json(runtime["in"]), PortLayout.from_json(runtime["out"])
        # the weight streams of layers with mem_mode "external": each one weight frame in DDR, read once per frame
        self.weights = tuple(PortLayout.from_json(entry) for entry in runtime.get("weights") or ())
        self.clock_hz = float(runtime["clock_mhz"]) * 1e6
        self._buffers: tuple[Buffer, Buffer] | None = None
        self._weight_buffers: dict[int, Buffer] = {}
        self._capacity = 0
        try:
            self._check_shell(source)
        except BaseException:
            backend.close()
            raise

    def __repr__(self) -> str:
        return (f"Accelerator(board {self.runtime['board']} at {self.runtime['clock_mhz']:g} MHz, build "
                f"{self.runtime['build_id']}, backend {type(self.backend).__name__})")

    def __enter__(self) -> Accelerator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the backend (the simulator process, or the board's buffers)."""
        self.backend.close()

    def _check_shell(self, source: str) -> None:
        """Refuse a shell that is not ours, of another register map, or of another build, in one line."""
        read = self.backend.read
        if read(Reg.MAGIC) != MAGIC:
            raise XnorflowError(f"no xnorflow shell answers at the control port (MAGIC reads 0x{read(Reg.MAGIC):08x})",
                                "load the bitfile that xnorflow built for this folder")
        if read(Reg.VERSION) != REGISTER_MAP_VERSION:
            raise XnorflowError(f"the shell's register map is version {read(Reg.VERSION)}, this driver speaks "
                                f"{REGISTER_MAP_VERSION}",
                                "use the driver copied with this bitfile (its deploy folder)")
        found = read(Reg.BUILD_ID_LO) | read(Reg.BUILD_ID_HI) << 32
        if found != int(self.runtime["build_id"], 16):
            raise XnorflowError(f"the shell's build ID {found:016x} differs from {source or 'the build'}'s "
                                f"{self.runtime['build_id']}", "load the bitfile (or RTL) of this very build, "
                                "or rebuild the deploy folder from the build that made the bitfile")
        ports = read(Reg.WEIGHT_PORTS)
        strides = (read(Reg.IN_STRIDE), read(Reg.OUT_STRIDE),
                   *(read(Reg.weight_bytes(k)) for k in range(min(ports, len(self.weights)))))
        want = (self.inp.stride, self.out.stride, *(w.stride for w in self.weights))
        if ports != len(self.weights) or strides != want:
            raise XnorflowError(f"the shell's frame strides and weight bytes {strides} ({ports} weight ports) differ "
                                f"from runtime.json's {want}", "rebuild the deploy folder from its build")

    def load_weights(self, values: np.ndarray, port: int = 0) -> None:
        """Put weight stream `port`'s frame (values in its folded shape, hw/ops/mvau.py `weight_stream`) into a DDR
        buffer of its own and point its WEIGHT_ADDR at it: the shell reads it once per frame of every run."""
        if not 0 <= port < len(self.weights):
            raise XnorflowError(f"this build has no weight stream {port} (it has {len(self.weights)})",
                                "load weights only into the ports of the design.json shell entry's 'weights'")
        layout = self.weights[port]
        buf = self.backend.allocate(layout.stride)
        buf[:] = layout.to_frames(np.asarray(values)[None])[0]
        buf.flush()
        self._write_address(Reg.weight_addr(port), buf.device_address)
        self._weight_buffers[port] = buf

    def _write_address(self, lo: int, value: int) -> None:
        """A 64-bit bus address into the register pair at `lo` (low word) and `lo + 4` (high word)."""
        self.backend.write(lo, value & 0xFFFFFFFF)
        self.backend.write(lo + 4, value >> 32)

    def buffers(self, frames: int) -> tuple[Buffer, Buffer]:
        """Input and output DDR buffers for at least `frames` frames (allocated anew when a batch outgrows them)."""
        if frames > self._capacity:
            self._capacity = 1 << (frames - 1).bit_length()
            self._buffers = (self.backend.allocate(self._capacity * self.inp.stride),
                             self.backend.allocate(self._capacity * self.out.stride))
        return self._buffers

    def run(self, frames: int, in_addr: int, out_addr: int) -> RunStats:
        """Run the shell on `frames` frames at bus address in_addr into out_addr; its cycle counters. Refuses a
        shell still busy with an earlier run (it would drop this START and report that run's DONE as this one's)
        and buffers off the AXI beat (the DMAs burst from beat-aligned addresses)."""
        if self.backend.read(Reg.STATUS) & BUSY:
            raise XnorflowError("the shell is still busy with an earlier run (one that timed out or was interrupted)",
                                "wait for it to finish, or reload the bitfile (a new Overlay) to reset the shell")
        beat = int(self.runtime["axi_bits"]) // 8
        for addr in (in_addr, out_addr):
            if addr % beat:
                raise XnorflowError(f"buffer address 0x{addr:x} is not aligned to the {beat}-byte AXI beat",
                                    "pass buffers from the backend's allocate (page-aligned)")
        self.backend.write(Reg.FRAMES, frames & 0xFFFFFFFF)
        self._write_address(Reg.IN_ADDR_LO, in_addr)
        self._write_address(Reg.OUT_ADDR_LO, out_addr)
        self.backend.write(Reg.CTRL, START)
        status = self._wait_done(frames)
        if status & ERROR:
            raise XnorflowError(f"the shell's DMA got an AXI error response (SLVERR/DECERR) in a run of {frames} "
                                f"frames from 0x{in_addr:x} to 0x{out_addr:x}",
                                "pass buffers that lie in DDR (allocate them with the backend's allocate)")
        read = self.backend.read
        return RunStats(frames, read(Reg.CYCLES_LO) | read(Reg.CYCLES_HI) << 32, read(Reg.LATENCY))

    def _wait_done(self, frames: int) -> int:
        """Poll STATUS until DONE, waiting about one run's expected cycles at a time; the final STATUS."""
        expected = int(frames * self.runtime["cycles_per_frame"]) + 10000
        waited, limit = 0, 50 * expected
        while not (status := self.backend.read(Reg.STATUS)) & DONE:
            if waited > limit:
                raise XnorflowError(f"the shell did not finish {frames} frames within {waited} cycles "
                                    f"(STATUS 0x{status:x})", "report the build: its design stalls")
            self.backend.wait(expected)
            waited += expected
        return status

    def _frames_in(self, images: np.ndarray) -> np.ndarray:
        """The host pre-processing of float NCHW images: the HW part's input values, frames first."""
        images = np.asarray(images, np.float32)
        want = tuple(self.runtime["input_shape"][1:])
        if images.ndim != len(want) + 1 or images.shape[1:] != want or not len(images):
            raise XnorflowError(f"images of shape {images.shape} do not match the model's input {want}",
                                f"pass a batch of shape (N >= 1, {', '.join(map(str, want))})")
        return host_ends.run(self.runtime["host"]["pre"], images)

    def run_frames(self, values: np.ndarray) -> np.ndarray:
        """The HW part alone on its input values (frames, *in.normal[1:]): its output values (frames,
        *out.normal[1:]), what FINN's python execution of the HW graph computes; `last_run` keeps the counters."""
        self.last_run, out = self._transfer_and_run(self.inp.to_frames(values))
        return self.out.from_frames(out)

    def execute(self, images: np.ndarray) -> np.ndarray:
        """Logits (N, classes) of a batch of float NCHW images, run on the accelerator; `last_run` keeps its
        counters."""
        logits = host_ends.run(self.runtime["host"]["post"], self.run_frames(self._frames_in(images)))
        return logits.reshape(len(logits), -1)

    def classify(self, images: np.ndarray) -> np.ndarray:
        """Predicted labels (N,) of a batch of float NCHW images."""
        return self.execute(images).argmax(axis=1)

    def _transfer_and_run(self, data: np.ndarray) -> tuple[RunStats, np.ndarray]:
        """Frames' DDR bytes (frames, in.stride) through the shell: its counters and the output bytes."""
        n = len(data)
        src, dst = self.buffers(n)
        src[: data.size] = data.ravel()
        src.flush()
        stats = self.run(n, src.device_address, dst.device_address)
        dst.invalidate()
        return stats, np.array(dst[: n * self.out.stride]).reshape(n, self.out.stride)

    def throughput_test(self, frames: int = 64, seed: int = 0) -> dict:
        """Frames/s and latency at the build's clock from the shell's own cycle counters, on random images; the
        host's pre-processing and packing, buffer transfer and unpacking times (wall seconds) beside them."""
        images = np.random.default_rng(seed).uniform(-1, 1, (frames, *self.runtime["input_shape"][1:]))
        t0 = time.perf_counter()
        data = self.inp.to_frames(self._frames_in(images))
        t1 = time.perf_counter()
        stats, out = self._transfer_and_run(data)
        t2 = time.perf_counter()
        host_ends.run(self.runtime["host"]["post"], self.out.from_frames(out))
        t3 = time.perf_counter()
        return {"frames": frames, "clock_mhz": self.clock_hz / 1e6, "cycles": stats.cycles,
                "cycles_per_frame": stats.cycles / frames, "frames_per_s": frames * self.clock_hz / stats.cycles,
                "latency_cycles": stats.latency, "latency_us": stats.latency / self.clock_hz * 1e6,
                "host_pack_s": t1 - t0, "transfer_and_run_wall_s": t2 - t1, "host_unpack_s": t3 - t2}


class PynqBackend:
    """The shell on a PYNQ board: the bitfile as a pynq Overlay, its control registers through MMIO, pynq buffers."""

    def __init__(self, bitfile: Path, clock_hz: float) -> None:
        import pynq  # only on a board

        self._pynq, self.clock_hz = pynq, clock_hz
        self.overlay = pynq.Overlay(str(bitfile))
        entry = shell_ip(self.overlay.ip_dict, bitfile)
        self.mmio = pynq.MMIO(entry["phys_addr"], entry["addr_range"])
        self._allocated: list = []

    def write(self, addr: int, value: int) -> None:
        """Write a 32-bit control register."""
        self.mmio.write(addr, int(value))

    def read(self, addr: int) -> int:
        """Read a 32-bit control register."""
        return int(self.mmio.read(addr))

    def allocate(self, nbytes: int) -> Buffer:
        """A physically contiguous DDR buffer of `nbytes` bytes (pynq.allocate, page-aligned)."""
        buf = self._pynq.allocate(shape=(nbytes,), dtype=np.uint8)
        self._allocated.append(buf)
        return buf

    def wait(self, cycles: int) -> None:
        """Sleep about `cycles` clock cycles of the shell."""
        time.sleep(cycles / self.clock_hz)

    def close(self) -> None:
        """Free the buffers this backend allocated."""
        for buf in self._allocated:
            buf.freebuffer()
        self._allocated.clear()


def shell_ip(ip_dict: dict, bitfile: Path) -> dict:
    """The overlay's ip_dict entry of the xnorflow shell's control port, or one line naming what the bitfile has."""
    found = [entry for name, entry in ip_dict.items() if "xnorflow_shell" in f"{name} {entry.get('type', '')}"]
    if len(found) != 1:
        raise XnorflowError(f"{bitfile} has {len(found)} xnorflow_shell IPs (its IPs: {', '.join(ip_dict) or 'none'})",
                            "load the bitfile that xnorflow built, with its .hwh beside it")
    return found[0]


def load_runtime(path: Path) -> dict:
    """The runtime description of a deploy folder (runtime.json, every file it lists checked) or of a build
    directory (described from its rtl/ and hw.onnx, which needs the xnorflow package)."""
    if (path / RUNTIME).is_file():
        runtime = json.loads((path / RUNTIME).read_text())
        missing = [name for name in runtime["files"] if not (path / name).is_file()]
        if missing:
            raise XnorflowError(f"deploy folder {path} lacks {missing[0]}",
                                "copy the whole deploy folder again, or rewrite it with write_deploy")
        return runtime
    if (path / DESIGN).is_file():
        try:
            from xnorflow.hw.deploy import runtime_description
        except ImportError as exc:
            raise XnorflowError(f"{path} is a build directory; describing it needs the xnorflow package",
                                "install xnorflow, or open the build's deploy folder") from exc
        return runtime_description(path)
    raise XnorflowError(f"{path} is neither a deploy folder (no {RUNTIME}) nor a build directory (no {DESIGN})",
                        "open a folder written by write_deploy or `xnorflow build --target rtl`")


def _bitfile(path: Path, runtime: dict) -> Path | None:
    """The bitfile of a deploy folder or build directory, or None where it has none."""
    name = runtime.get("bitfile")
    if name and (path / name).is_file():
        return path / name
    built = path / BITFILE_DIR / "xnorflow.bit"
    return built if built.is_file() else None


def _backend(kind: str, path: Path, runtime: dict, options: dict) -> Backend:
    """The backend `kind` (auto: pynq where it is installed and there is a bitfile, else verilator)."""
    bitfile = _bitfile(path, runtime)
    if kind == "auto":
        kind = "pynq" if bitfile is not None and importlib.util.find_spec("pynq") else "verilator"
    if kind == "pynq":
        if bitfile is None:
            raise XnorflowError(f"{path} has no bitfile", "build one with `xnorflow build --target bitfile` "
                                "where Vivado is installed, or use backend='verilator'")
        return PynqBackend(bitfile, float(runtime["clock_mhz"]) * 1e6)
    if kind == "verilator":
        try:
            from xnorflow.hw.shell_sim import VerilatorBackend
        except ImportError as exc:
            raise XnorflowError("the Verilator backend needs the xnorflow package",
                                "install xnorflow, or use backend='pynq' on a board") from exc
        return VerilatorBackend(runtime, **options)
    raise XnorflowError(f"unknown backend '{kind}'", "use 'auto', 'pynq' or 'verilator'")


def open(path: str | Path, backend: str = "auto", **options) -> Accelerator:  # noqa: A001 (the driver's verb)
    """The accelerator of a build directory or deploy folder, on `backend` ('auto', 'pynq' or 'verilator';
    `options` go to the Verilator backend: seed, timing, mem_bytes, base)."""
    path = Path(path).resolve()
    runtime = load_runtime(path)
    acc = Accelerator(runtime, _backend(backend, path, runtime, options), source=str(path))
    try:
        for k, entry in enumerate(runtime.get("weights") or ()):
            acc.load_weights(np.load(path / entry["file"]), k)
    except BaseException:
        acc.close()
        raise
    return acc
