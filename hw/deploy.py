"""The deploy folder of a build: everything a PYNQ board needs to run the accelerator, and nothing it cannot run.

`write_deploy(build_dir, dest)` writes
- runtime.json: the HW part's ports as DDR holds them (data types, shapes, word bytes, words per frame, frame
  strides), the build ID, board, clock, register-map version, the host ends as numpy ops (host_ends.py), the
  path of the build's rtl/ (so a machine that has it can simulate the deploy folder), and the files it holds;
- xnorflow_driver/: the driver (driver.py, host_ends.py, words.py and the error type), numpy-only, importable as
  `from xnorflow_driver import open`;
- xnorflow.bit and xnorflow.hwh where the build has them (<build>/bitfile/), PYNQ loads them side by side;
- notebooks/: the repository's notebooks, where it has any;
- weights/w<k>_V.npy for each layer that streams its weights from DDR (FINN's mem_mode "external"): the values of
  its weight frame, which the driver packs into a DDR buffer of its own at open();
- testset.npz: the first test images (float NCHW, as the model takes them) and labels of the data set the model
  was trained on, where the build names one that is on this machine (the quickstart notebook classifies them).
It is staged beside `dest` and renamed into place (xnorflow.build_dir), so a half-written folder never looks
complete, and only a folder xnorflow wrote is ever replaced.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from xnorflow import errors
from xnorflow.build_dir import replacing
from xnorflow.errors import XnorflowError
from xnorflow.hw import driver
from xnorflow.hw.boards import board
from xnorflow.hw.build import RTL_DIR, Build, manifest, open_build, weight_values_file
from xnorflow.hw.host_ends import describe
from xnorflow.hw.shell_sim import shell_design

HW = Path(__file__).resolve().parent
PACKAGE = "xnorflow_driver"
# The driver's files, as (source, path in the deploy folder): its relative imports resolve in both places.
DRIVER_FILES = ((Path(errors.__file__), f"{PACKAGE}/errors.py"),
                (HW / "driver.py", f"{PACKAGE}/hw/driver.py"),
                (HW / "host_ends.py", f"{PACKAGE}/hw/host_ends.py"),
                (HW / "words.py", f"{PACKAGE}/hw/words.py"))
PACKAGE_INIT = ('"""The xnorflow driver of this deploy folder (numpy and, on a board, pynq): '
                'open(folder) -> Accelerator."""\nfrom .hw.driver import Accelerator, open\n\n'
                '__all__ = ["Accelerator", "open"]\n')
NOTEBOOKS = HW.parent / "notebooks"
BITFILE, HWH = "xnorflow.bit", "xnorflow.hwh"
TEST_SET, TEST_IMAGES = "testset.npz", 256
WEIGHTS = "weights"   # folder of the weight frames' values, one file per layer that streams its weights from DDR


def _port(port, shell_port: dict) -> dict:
    """One HW port's runtime.json entry: data type, shapes, and the shell's DDR layout of its frames."""
    return {"dtype": port.dtype.name, "normal": list(port.normal), "folded": list(port.folded),
            "word_bytes": shell_port["word_bytes"], "words_per_frame": shell_port["words_per_frame"],
            "stride": shell_port["stride"]}


def _shell(build: Build) -> dict:
    """The `shell` entry of the build's rtl/design.json, or one line saying the RTL predates the shell."""
    shell_design(build)  # raises where there is none
    return build.shell_manifest


def runtime_description(build_dir: str | Path) -> dict:
    """runtime.json of a build (less the list of deploy files): read from its rtl/ and hw.onnx, writing nothing."""
    from xnorflow.build_flows.hw_graph import split_host

    build = open_build(build_dir)
    shell = _shell(build)
    pre, _, post = split_host(build.hw_graph())
    b = board(manifest(build.path / RTL_DIR)["report"]["board"])
    ports = {port.stream.name: port for port in build.weight_ports.values()}
    weights = [_port(ports[entry["port"]], entry) | {"port": entry["port"],
                                                     "file": f"{RTL_DIR}/{weight_values_file(ports[entry['port']])}"}
               for entry in shell["weights"]]  # in the order of the shell's weight ports
    return {"register_map_version": driver.REGISTER_MAP_VERSION, "build_id": shell["build_id"],
            "board": b.name, "clock_mhz": b.clock_mhz, "axi_bits": shell["axi_bits"], "addr_bits": shell["addr_bits"],
            "input_shape": list(pre.get_tensor_shape(pre.graph.input[0].name)),
            "classes": int(np.prod(post.get_tensor_shape(post.graph.output[0].name)[1:])),
            "cycles_per_frame": max(build.cycles.values()),
            "in": _port(build.in_port, shell["in"]), "out": _port(build.out_port, shell["out"]), "weights": weights,
            "host": {"pre": describe(pre), "post": describe(post)}, "rtl": str(build.path / RTL_DIR)}


def _bitfile_pair(build: Build) -> tuple[Path, Path] | None:
    """The build's bitfile and .hwh, None where it has neither; one line where it has only one of them."""
    bit, hwh = build.path / driver.BITFILE_DIR / BITFILE, build.path / driver.BITFILE_DIR / HWH
    if bit.is_file() != hwh.is_file():
        missing = hwh if bit.is_file() else bit
        raise XnorflowError(f"{build.path} lacks {missing} (PYNQ needs the bitfile and its .hwh together)",
                            f"rerun `xnorflow build --target bitfile --out {build.path}`")
    return (bit, hwh) if bit.is_file() else None


def _copy_driver(tmp: Path) -> list[str]:
    """The driver package into staging directory `tmp`; the files written."""
    written = []
    for src, name in DRIVER_FILES:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp / name)
        written.append(name)
    for name, text in ((f"{PACKAGE}/__init__.py", PACKAGE_INIT),
                       (f"{PACKAGE}/hw/__init__.py", '"""The driver\'s modules."""\n')):
        (tmp / name).write_text(text)
        written.append(name)
    return written


def _copy_notebooks(tmp: Path) -> list[str]:
    """The repository's notebooks (.ipynb) into tmp/notebooks, where there are any; the files written."""
    books = sorted(NOTEBOOKS.glob("*.ipynb")) if NOTEBOOKS.is_dir() else []
    for book in books:
        (tmp / "notebooks").mkdir(exist_ok=True)
        shutil.copyfile(book, tmp / "notebooks" / book.name)
    return [f"notebooks/{book.name}" for book in books]


def _write_test_set(build: Build, tmp: Path) -> list[str]:
    """tmp/testset.npz from the build's data set (report.json `data`) where it is at hand; the files written."""
    from xnorflow.training.data import load_dataset

    data = json.loads((build.path / "report.json").read_text()).get("data")
    try:
        test = load_dataset(data).test if data else None
    except XnorflowError:
        test = None
    if test is None:
        return []
    count = min(TEST_IMAGES, len(test))
    images = np.stack([np.asarray(test[i][0], np.float32) for i in range(count)])
    np.savez(tmp / TEST_SET, images=images, labels=np.array([int(test[i][1]) for i in range(count)]), data=data)
    return [TEST_SET]


def write_deploy(build_dir: str | Path, dest: str | Path) -> Path:
    """Write the deploy folder of a build (with RTL, and a bitfile where Vivado made one) to `dest`; its path."""
    build = open_build(build_dir)
    runtime = runtime_description(build.path)
    pair = _bitfile_pair(build)
    with replacing(dest) as tmp:
        files = _copy_driver(tmp) + _copy_notebooks(tmp) + _write_test_set(build, tmp)
        for entry in runtime["weights"]:
            name = f"{WEIGHTS}/{Path(entry['file']).name}"
            (tmp / WEIGHTS).mkdir(exist_ok=True)
            shutil.copyfile(build.path / entry["file"], tmp / name)
            entry["file"] = name
            files.append(name)
        if pair:
            shutil.copyfile(pair[0], tmp / BITFILE)
            shutil.copyfile(pair[1], tmp / HWH)
            files += [BITFILE, HWH]
        runtime |= {"bitfile": BITFILE if pair else None, "files": sorted(files)}
        (tmp / driver.RUNTIME).write_text(json.dumps(runtime, indent=1))
    return Path(dest).resolve()
