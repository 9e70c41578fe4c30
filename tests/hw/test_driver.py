"""The driver over the whole shell in Verilator: every tiny model bit-exact against FINN's python execution of
the HW graph (DDR with random latency, gaps and stalls), the register protocol (start, done, counters against
the harness's own count, build ID, AXI errors), the PYNQ backend's code run against a fake `pynq` backed by the
same harness, numpy host ends and word packing against qonnx and FINN, and the deploy folder."""
from __future__ import annotations

import importlib.machinery
import json
import re
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from xnorflow.build_flows.hw_graph import split_host
from xnorflow.errors import XnorflowError
from xnorflow.hw import deploy, driver, host_ends, words
from xnorflow.hw.accelerator import build_target, random_frames, reference, reference_part
from xnorflow.hw.build import open_build
from xnorflow.hw.driver import DONE, ERROR, Accelerator, Reg
from xnorflow.hw.shell_sim import DEFAULT_BASE, SimBuffer
from xnorflow.hw.streams import pack_words, random_tensor, unpack_words

TINY = ("tiny-bireal", "tiny-reactnet", "tiny-hyperbnn", "tiny-real2bin")
FOLDING = "6000"


@pytest.fixture(scope="module")
def builds(tmp_path_factory, tiny_graph):
    """Tiny registry models through the rtl target (with the shell) once for this module, on request; their hw-graph
    builds are the session's (conftest.tiny_graph), Pynq-Z2 and FOLDING as test_accelerator's driver tests, so the
    compiled shell model of tiny-bireal is shared with them."""
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            path = tiny_graph(name, tmp_path_factory.mktemp("driver") / name)
            build_target(path, "rtl", "Pynq-Z2", FOLDING)
            built[name] = path
        return built[name]
    return get


@pytest.fixture(scope="module")
def bireal(builds):
    """tiny-bireal's build, opened on the Verilator backend once for the protocol tests."""
    with driver.open(builds("tiny-bireal"), backend="verilator") as acc:
        yield acc


def graph_run(model: ModelWrapper, frames: np.ndarray) -> np.ndarray:
    """qonnx's execution of a host-end graph, frame by frame (an empty graph passes frames through)."""
    if not model.graph.node:
        return frames
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {name_in: f[None]})[name_out] for f in frames])


def stressed_run(build: Path, target: Path, seed: int, timing_seed: int) -> tuple:
    """3 random frames of `build` through driver.open(target) on the Verilator backend with a stressed DDR: asserts
    they equal FINN's execution with no AXI protocol error; the closed accelerator and the simulator's stats."""
    part = reference_part(open_build(build))
    xs = random_frames(part, 3, seed=seed)
    with driver.open(target, backend="verilator", timing="stress", seed=timing_seed) as acc:
        ys = acc.run_frames(xs.reshape(len(xs), *acc.inp.normal[1:]))
        stats = acc.backend.sim.stats()
    assert np.array_equal(ys.reshape(len(xs), -1), reference(part, xs).reshape(len(xs), -1))
    assert stats["protocol_errors"] == 0 and stats["decerrs"] == 0
    return acc, stats


@pytest.mark.parametrize("name", TINY)
def test_shell_bit_exact(builds, name):
    """The whole shell (DMAs, width conversion, trim/pad, core) with a stressed DDR equals FINN frame for frame."""
    build = builds(name)
    acc, stats = stressed_run(build, build, seed=1, timing_seed=5)
    assert stats["bytes_read"] == 3 * acc.inp.stride and stats["bytes_written"] == 3 * acc.out.stride


@pytest.mark.parametrize("name", TINY)
def test_host_ends_equal_qonnx(builds, name):
    """The host ends as JSON ops (through a JSON round trip) in numpy equal qonnx's execution bit for bit."""
    pre, part, post = split_host(ModelWrapper(str(builds(name) / "hw.onnx")))
    rng = np.random.default_rng(0)
    images = rng.uniform(-1.2, 1.2, (6, *pre.get_tensor_shape(pre.graph.input[0].name)[1:])).astype(np.float32)
    images[0, ..., :2] = [-1.0, 1.0]  # exact threshold-grid values as well as random ones
    ops = json.loads(json.dumps({"pre": host_ends.describe(pre), "post": host_ends.describe(post)}))
    assert np.array_equal(host_ends.run(ops["pre"], images), graph_run(pre, images))
    out = post.graph.input[0].name
    logits = random_tensor(rng, post.get_tensor_datatype(out), (6, *post.get_tensor_shape(out)[1:]))
    assert np.array_equal(host_ends.run(ops["post"], logits), graph_run(post, logits))


@pytest.mark.parametrize("dtype,elems", [("BIPOLAR", 13), ("BINARY", 8), ("INT2", 5), ("UINT3", 7), ("INT8", 1),
                                         ("UINT8", 3), ("INT17", 2), ("INT32", 1), ("UINT1", 9)])
def test_words_equal_pack_words(dtype, elems):
    """numpy packing equals hw/streams.py pack_words (FINN's packers) and unpacks back."""
    dt = DataType[dtype]
    values = random_tensor(np.random.default_rng(elems), dt, (4, 6, elems))
    word_bytes = words.word_bytes(dtype, elems)
    packed = words.pack(values, dtype, word_bytes)
    assert np.array_equal(packed.reshape(-1, word_bytes), pack_words(values, dt))
    assert np.array_equal(words.unpack(packed, dtype, elems), values)
    assert np.array_equal(unpack_words(packed.reshape(-1, word_bytes), dt, values.shape), values)


def test_frames_layout_in_ddr():
    """A frame is its words back to back, then zero padding up to the stride; frames back to back."""
    layout = words.PortLayout("INT4", (1, 2, 3), (1, 2, 3, 1), 1, 6, 16)
    values = np.arange(12, dtype=np.float32).reshape(2, 2, 3) % 8 - 4
    data = layout.to_frames(values)
    assert data.shape == (2, 16) and not data[:, 6:].any()
    assert np.array_equal(data[:, :6].reshape(-1, 1), pack_words(values.reshape(-1, 1), DataType["INT4"]))
    assert np.array_equal(layout.from_frames(data), values)


def test_register_protocol(bireal):
    """Identity registers, then runs: DONE and the level interrupt, CYCLES equal to the harness's count from the
    START write's response to the interrupt, LATENCY within the run, FRAMES and addresses read back."""
    read, sim = bireal.backend.read, bireal.backend.sim
    assert (read(Reg.MAGIC), read(Reg.VERSION)) == (driver.MAGIC, driver.REGISTER_MAP_VERSION)
    assert (read(Reg.IN_STRIDE), read(Reg.OUT_STRIDE)) == (bireal.inp.stride, bireal.out.stride)
    src, dst = bireal.buffers(4)
    counts = {}
    for frames in (1, 4):
        stats = bireal.run(frames, src.device_address, dst.device_address)
        harness = sim.stats()
        assert stats.cycles == harness["irq_cycle"] - harness["start_cycle"]
        assert 0 < stats.latency < stats.cycles
        assert read(Reg.STATUS) == DONE and sim.advance(0)  # interrupt high while DONE
        assert (read(Reg.FRAMES), read(Reg.IN_ADDR_LO), read(Reg.OUT_ADDR_LO)) == (frames, src.device_address,
                                                                                   dst.device_address)
        counts[frames] = stats.cycles
    per_frame = (counts[4] - counts[1]) / 3
    assert per_frame <= 1.1 * bireal.runtime["cycles_per_frame"]
    sim.write(Reg.CTRL, 1)
    assert read(Reg.STATUS) & 3 == 2 and not sim.advance(0)  # START clears DONE; BUSY while running
    with pytest.raises(XnorflowError, match="the shell is still busy with an earlier run"):
        bireal.run(1, src.device_address, dst.device_address)  # its START would be dropped, that run's DONE taken
    bireal.backend.wait(10 ** 6)
    assert read(Reg.STATUS) == DONE
    with pytest.raises(XnorflowError, match=r"buffer address 0x[0-9a-f]+ is not aligned to the 8-byte AXI beat"):
        bireal.run(1, src.device_address + 4, dst.device_address)
    with pytest.raises(XnorflowError, match=r"images of shape \(0, 1, 8, 8\) do not match"):
        bireal.execute(np.zeros((0, 1, 8, 8), np.float32))
    assert repr(bireal).startswith("Accelerator(board Pynq-Z2 at 100 MHz, build ")
    assert repr(bireal).endswith("backend VerilatorBackend)")


def test_error_on_buffer_outside_ddr(bireal):
    """An input buffer beyond the simulated DDR: the harness answers DECERR and reports it, STATUS.ERROR is set,
    the driver raises one line; the next START clears ERROR and a good run follows."""
    src, dst = bireal.buffers(2)
    outside = DEFAULT_BASE + len(bireal.backend.sim.memory)
    with pytest.raises(XnorflowError, match=r"AXI error response .* from 0x[0-9a-f]+ .*allocate") as err:
        bireal.run(2, outside, dst.device_address)
    assert "\n" not in str(err.value)
    harness = bireal.backend.sim.stats()
    assert harness["decerrs"] > 0 and "outside the memory" in harness["last_report"]
    assert bireal.backend.read(Reg.STATUS) == DONE | ERROR
    bireal.run(2, src.device_address, dst.device_address)
    assert bireal.backend.read(Reg.STATUS) == DONE


def test_bursts_across_4k_pages(bireal):
    """Buffers that start just before a 4 KiB boundary: the DMAs split their bursts there (the DDR model answers
    DECERR and reports any burst that crosses one), and the results do not move."""
    xs = np.random.default_rng(3).integers(-128, 128, (8, *bireal.inp.normal[1:])).astype(np.float32)
    expected = bireal.run_frames(xs)
    big = bireal.backend.allocate(3 * 4096)
    src_at, dst_at = 4096 - 8, 2 * 4096 - 16
    big[src_at:src_at + xs.shape[0] * bireal.inp.stride] = bireal.inp.to_frames(xs).ravel()
    before = bireal.backend.sim.stats()["decerrs"]
    bireal.run(len(xs), big.device_address + src_at, big.device_address + dst_at)
    out = np.array(big[dst_at:dst_at + len(xs) * bireal.out.stride]).reshape(len(xs), -1)
    assert bireal.backend.sim.stats()["decerrs"] == before
    assert np.array_equal(bireal.out.from_frames(out), expected)


def test_build_id_mismatch_refused(bireal):
    """A shell whose BUILD_ID is not the build's is refused in one line naming both IDs."""
    runtime = {**bireal.runtime, "build_id": f"{int(bireal.runtime['build_id'], 16) ^ 1:016x}"}
    with pytest.raises(XnorflowError, match=rf"build ID {bireal.runtime['build_id']} differs from .*'s "
                       rf"{runtime['build_id']}; load the bitfile") as err:
        Accelerator(runtime, types.SimpleNamespace(read=bireal.backend.read, close=lambda: None), "the copy")
    assert "\n" not in str(err.value)


class FakePynq:
    """A `pynq` module whose Overlay, MMIO and allocate are the Verilator harness: the board path's code runs."""

    def __init__(self, sim, phys: int = 0x4000_0000) -> None:
        self.sim, self.phys, self.freed = sim, phys, 0
        self.module = types.ModuleType("pynq")
        self.module.__spec__ = importlib.machinery.ModuleSpec("pynq", None)
        self.module.Overlay, self.module.MMIO, self.module.allocate = self.overlay, self.mmio, self.allocate

    def overlay(self, bitfile: str):
        assert Path(bitfile).read_bytes() == b"bit"
        ip = {"xnorflow_shell_0": {"phys_addr": self.phys, "addr_range": 0x1000,
                                   "type": "xilinx.com:module_ref:xnorflow_shell:1.0"},
              "processing_system7_0": {"phys_addr": 0, "addr_range": 0, "type": "xilinx.com:ip:processing_system7:5.5"}}
        return types.SimpleNamespace(ip_dict=ip)

    def mmio(self, base: int, length: int):
        assert (base, length) == (self.phys, 0x1000)
        return types.SimpleNamespace(read=lambda addr: self.sim.read(addr)[0], write=self.sim.write)

    def allocate(self, shape, dtype):
        assert dtype == np.uint8
        fake = self

        class Buffer(SimBuffer):
            def freebuffer(self) -> None:
                fake.freed += 1
        return self.sim.allocate(shape[0]).view(Buffer)


def test_pynq_backend_on_the_harness(builds, tmp_path, monkeypatch):
    """A deploy folder with a bitfile opens with backend auto on a 'board' (pynq importable): Overlay, the
    shell's ip_dict entry, MMIO and allocate carry the same protocol, and the logits equal the simulator's."""
    build = tmp_path / "b"
    shutil.copytree(builds("tiny-bireal"), build)
    (build / "bitfile").mkdir()
    (build / "bitfile" / "xnorflow.bit").write_bytes(b"bit")
    (build / "bitfile" / "xnorflow.hwh").write_text("<hwh/>")
    dest = deploy.write_deploy(build, tmp_path / "deploy")
    images = np.random.default_rng(2).uniform(-1, 1, (5, 1, 8, 8)).astype(np.float32)
    with driver.open(dest, backend="verilator") as sim_acc:
        expected = sim_acc.execute(images)
        fake = FakePynq(sim_acc.backend.sim)
        monkeypatch.setitem(sys.modules, "pynq", fake.module)
        clock_hz = sim_acc.clock_hz  # on the 'board', sleeping is the shell's clock running
        monkeypatch.setattr(driver, "time", types.SimpleNamespace(
            perf_counter=time.perf_counter, sleep=lambda s: fake.sim.advance(round(s * clock_hz))))
        acc = driver.open(dest)
        assert isinstance(acc.backend, driver.PynqBackend)
        assert np.array_equal(acc.execute(images), expected)
        assert np.array_equal(acc.classify(images), expected.argmax(1))
        acc.close()
    assert fake.freed == 2


def test_deploy_folder(builds, tmp_path, monkeypatch):
    """write_deploy: runtime.json, the numpy-only driver package (imported with torch, qonnx, FINN and xnorflow
    blocked), notebooks where the repository has them; a missing file or a user's folder is one clear line."""
    books = tmp_path / "books"
    books.mkdir()
    (books / "quickstart.ipynb").write_text("{}")
    monkeypatch.setattr(deploy, "NOTEBOOKS", books)
    dest = deploy.write_deploy(builds("tiny-bireal"), tmp_path / "d")
    runtime = json.loads((dest / "runtime.json").read_text())
    assert runtime["bitfile"] is None and "notebooks/quickstart.ipynb" in runtime["files"]
    assert runtime["in"]["stride"] % 8 == 0 and runtime["build_id"] == open_build(builds("tiny-bireal")).inputs[:16]
    assert (dest / "xnorflow_driver" / "hw" / "driver.py").read_text() == Path(driver.__file__).read_text()
    images = np.random.default_rng(4).uniform(-1, 1, (3, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    on_board = subprocess.run([sys.executable, "-c", BOARD_SCRIPT, str(dest), str(tmp_path / "images.npy")],
                              capture_output=True, text=True, cwd=tmp_path)
    assert on_board.returncode == 0, on_board.stderr
    packed = deploy.runtime_description(builds("tiny-bireal"))
    acc_in = words.PortLayout.from_json(packed["in"]).to_frames(host_ends.run(packed["host"]["pre"], images))
    assert np.array_equal(np.load(tmp_path / "frames.npy"), acc_in)
    (dest / "xnorflow_driver" / "hw" / "words.py").unlink()
    with pytest.raises(XnorflowError, match=r"deploy folder .* lacks xnorflow_driver/hw/words.py; copy the whole"):
        driver.open(dest)
    users = tmp_path / "mine"
    users.mkdir()
    (users / "notes.txt").write_text("keep")
    with pytest.raises(XnorflowError, match="did not write"):
        deploy.write_deploy(builds("tiny-bireal"), users)
    assert (users / "notes.txt").read_text() == "keep"


def test_deploy_two_ddr_layers(builds, tiny_graph, tmp_path):
    """tiny-bireal with a FINN folding JSON that puts two MVAUs' weights in DDR (mem_mode "external"): the rtl
    target's shell has two weight masters; its deploy folder carries both weight frames (weights/w0_V.npy,
    weights/w1_V.npy), and driver.open() of that folder loads each into its own buffer and register: 3 frames through
    the Verilator backend with a stressed DDR equal FINN, every weight frame read once per frame."""
    folding = json.loads((builds("tiny-bireal") / "rtl" / "folding.json").read_text())
    mvaus = [name for name in folding if name.startswith("MVAU")][-2:]
    for name in mvaus:
        folding[name]["mem_mode"] = "external"
    (tmp_path / "folding.json").write_text(json.dumps(folding))
    build = tiny_graph("tiny-bireal", tmp_path / "b")
    build_target(build, "rtl", "Pynq-Z2", str(tmp_path / "folding.json"))
    assert list(open_build(build).weight_ports) == mvaus
    dest = deploy.write_deploy(build, tmp_path / "d")
    runtime = json.loads((dest / "runtime.json").read_text())
    assert [(w["port"], w["file"]) for w in runtime["weights"]] == [("w0_V", "weights/w0_V.npy"),
                                                                     ("w1_V", "weights/w1_V.npy")]
    assert {"weights/w0_V.npy", "weights/w1_V.npy"} <= set(runtime["files"])
    acc, stats = stressed_run(build, dest, seed=2, timing_seed=7)
    assert stats["bytes_read"] == 3 * (acc.inp.stride + sum(w.stride for w in acc.weights))


BOARD_SCRIPT = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "brevitas", "qonnx", "finn", "onnx", "onnxruntime", "xnorflow"):
            raise ImportError(f"{name} is not on the board")
sys.meta_path.insert(0, Blocked())
sys.path.insert(0, sys.argv[1])
import numpy as np
from pathlib import Path
from xnorflow_driver import open
from xnorflow_driver.hw import driver, host_ends, words
runtime = driver.load_runtime(Path(sys.argv[1]))
values = host_ends.run(runtime["host"]["pre"], np.load(sys.argv[2]))
frames = words.PortLayout.from_json(runtime["in"]).to_frames(values)
np.save("frames.npy", frames)
try:
    open(sys.argv[1], backend="pynq")
except driver.XnorflowError as err:
    assert "has no bitfile" in str(err), err
"""


def test_open_refuses_other_folders(tmp_path):
    """A folder that is neither a build nor a deploy folder, and an unknown backend, are one line each."""
    with pytest.raises(XnorflowError, match="neither a deploy folder .* nor a build directory"):
        driver.open(tmp_path)
    (tmp_path / "runtime.json").write_text(json.dumps({"files": []}))
    with pytest.raises(XnorflowError, match="unknown backend 'fpga'"):
        driver.open(tmp_path, backend="fpga")


class RegisterBackend:
    """A backend of plain registers and numpy buffers: what the protocol writes and allocates, without a shell."""

    def __init__(self, regs: dict[int, int], base: int = 0x1_2345_6000) -> None:
        self.regs, self.base, self.buffers = dict(regs), base, []

    def write(self, addr: int, value: int) -> None:
        self.regs[addr] = value

    def read(self, addr: int) -> int:
        return self.regs.get(addr, 0)

    def allocate(self, nbytes: int) -> SimBuffer:
        buf = np.zeros(nbytes, np.uint8).view(SimBuffer)
        buf.device_address = self.base + 0x1000 * len(self.buffers)
        self.buffers.append(buf)
        return buf

    def wait(self, cycles: int) -> None:
        """Nothing runs."""

    def close(self) -> None:
        """Nothing to release."""


W_LAYOUT = {"dtype": "INT2", "normal": [12, 6], "folded": [2, 9, 8], "word_bytes": 2, "words_per_frame": 18,
            "stride": 40}   # test_shell_blocks' external MVAU on Pynq-Z2: 18 two-byte words, padded to 40 bytes
W1_LAYOUT = {"dtype": "INT2", "normal": [6, 4], "folded": [2, 6, 4], "word_bytes": 1, "words_per_frame": 12,
             "stride": 16}  # a second layer's: 12 one-byte words, padded to 16 bytes


def _weights_runtime() -> tuple[dict, dict[int, int]]:
    """A runtime with two weight streams, and the registers of a shell that matches it."""
    port = {"dtype": "UINT2", "normal": [1, 2, 12], "folded": [1, 2, 3, 4], "word_bytes": 1, "words_per_frame": 6,
            "stride": 8}
    runtime = {"in": port, "out": port, "weights": [W_LAYOUT, W1_LAYOUT], "clock_mhz": 100,
               "build_id": "0123456789abcdef"}
    regs = {Reg.MAGIC: driver.MAGIC, Reg.VERSION: driver.REGISTER_MAP_VERSION, Reg.BUILD_ID_LO: 0x89ABCDEF,
            Reg.BUILD_ID_HI: 0x01234567, Reg.IN_STRIDE: 8, Reg.OUT_STRIDE: 8, Reg.WEIGHT_PORTS: 2,
            Reg.weight_bytes(0): 40, Reg.weight_bytes(1): 16}
    return runtime, regs


def test_weight_buffers_packed_and_addressed():
    """load_weights packs each weight frame with words.pack into a buffer of its own of its WEIGHT_BYTES (zero
    padding) and writes its 64-bit bus address to its port's WEIGHT_ADDR (0x50 + 0x10 k, the regfile's map); a shell
    whose weight ports or WEIGHT_BYTES differ from runtime.json is refused, and so is a port it does not have."""
    runtime, regs = _weights_runtime()
    backend = RegisterBackend(regs)
    acc = Accelerator(runtime, backend)
    rng = np.random.default_rng(0)
    values = [rng.integers(-2, 2, (2, 9, 8)), rng.integers(-2, 2, (2, 6, 4))]
    acc.load_weights(values[1], 1)
    acc.load_weights(values[0], 0)
    buf1, buf0 = backend.buffers
    assert (len(buf0), len(buf1)) == (40, 16) and not buf0[36:].any() and not buf1[12:].any()
    assert [backend.regs[a] for a in (0x50, 0x54, 0x60, 0x64)] == [0x2345_7000, 0x1, 0x2345_6000, 0x1]
    for buf, (word_bytes, words_, elems), value in zip((buf0, buf1), ((2, 18, 8), (1, 12, 4)), values):
        packed = np.asarray(buf[:word_bytes * words_]).reshape(words_, word_bytes)
        np.testing.assert_array_equal(words.unpack(packed, "INT2", elems), value.reshape(words_, elems))
    with pytest.raises(XnorflowError, match="no weight stream 2"):
        acc.load_weights(values[1], 2)
    for other in ({**runtime, "weights": []}, {**runtime, "weights": [W_LAYOUT]},
                  {**runtime, "weights": [W_LAYOUT, {**W1_LAYOUT, "stride": 24}]}):
        with pytest.raises(XnorflowError, match="weight bytes"):
            Accelerator(other, RegisterBackend(regs))


def test_cli_sim_shell_and_deploy(builds, tmp_path, capsys):
    """`xnorflow sim BUILD --shell` adds the whole shell's line; `xnorflow deploy` writes the folder, or one line."""
    from xnorflow.cli import main

    build = builds("tiny-bireal")
    assert main(["sim", str(build), "--frames", "2", "--shell"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"shell: bit-exact on 2 frames from DDR to DDR .* [\d,]+ frames/s at 100 MHz, latency \d+", out)
    assert main(["deploy", str(build), "--out", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "runtime.json").is_file() and "deploy: " in capsys.readouterr().out
    assert main(["deploy", str(tmp_path), "--out", str(tmp_path / "e")]) == 2
    assert "has no RTL" in capsys.readouterr().err
