"""The XNOR popcount of xnor_mvu (dot_xnor.sv) against numpy, bit for bit, for SIMD widths from 1 to 70 (every
remainder mod 3 and mod 6, powers of two and their neighbours): random, all-ones and all-zeros inputs and weights."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType as DT

from finn_nodes import mvau_model
from xnorflow.hw.ops import layer_rtl
from xnorflow.hw.synth import PRIMITIVES, PRIMITIVES_FILE, yosys_exe

RTL = Path(__file__).parents[2] / "hw" / "rtl"
XILINX_MODELS = Path(__file__).parent / "rtl" / "xilinx_models.v"

SIMDS = [1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 17, 18, 31, 32, 33, 64, 70]
PE = 4


def _operands(rng: np.random.Generator, simd: int) -> tuple[np.ndarray, np.ndarray]:
    """Input vectors (random, all ones, all zeros) and PE weight columns (random, all ones, all zeros, random)."""
    x = np.concatenate([rng.integers(0, 2, (6, simd)), np.ones((1, simd)), np.zeros((1, simd))])
    w = np.stack([rng.integers(0, 2, simd), np.ones(simd), np.zeros(simd), rng.integers(0, 2, simd)], axis=1)
    return x.astype(np.float32), w.astype(np.float32)


@pytest.mark.parametrize("simd", SIMDS)
def test_popcount_matches_numpy(rng, simd):
    """Every count of agreeing bits (0 .. SIMD, both ends included) is exact: one fold, no activation."""
    x, w = _operands(rng, simd)
    model = mvau_model(simd, PE, PE, simd, DT["BINARY"], DT["BINARY"], DT["UINT8"], w, None, None, [len(x)],
                       xnor=True)
    (y,), _ = layer_rtl(model, model.graph.node[0]).run(x)
    np.testing.assert_array_equal(y, (x[:, :, None] == w[None]).sum(axis=1))


def _equiv_script(pe: int, simd: int, files: str) -> str:
    """Yosys: dot_xnor with Xilinx primitives (their UG953 models) and its Verilator branch, proven equal by SAT."""
    read = f"read_slang -j 1 -G PE={pe} -G SIMD={simd} --top dot_xnor"
    return (f"{read} {PRIMITIVES_FILE} {files}\nread_verilog -overwrite {XILINX_MODELS}\n"
            "hierarchy -top dot_xnor\nflatten\ndesign -stash gate\n"
            f"{read} -D VERILATOR {files}\nhierarchy -top dot_xnor\nflatten\nrename dot_xnor gold\n"
            "design -copy-from gate -as gate dot_xnor\nproc\nmiter -equiv -flatten -make_assert gold gate miter\n"
            "hierarchy -top miter\nopt\nsat -verify -prove-asserts miter\n")


@pytest.mark.parametrize("pe,simd", [(1, 1), (2, 2), (1, 3), (2, 7), (4, 32), (1, 64)])
def test_primitive_branch_equals_verilator_branch(tmp_path, pe, simd):
    """The Xilinx primitives that synthesis sees (xnor_count3.sv, add3.sv) compute what Verilator simulates, all inputs."""
    (tmp_path / PRIMITIVES_FILE).write_text(PRIMITIVES)
    files = " ".join(str(RTL / f) for f in ("add3.sv", "add3_tree.sv", "xnor_count3.sv", "dot_xnor.sv"))
    proc = subprocess.run([yosys_exe(), "-q", "-p", _equiv_script(pe, simd, files)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
