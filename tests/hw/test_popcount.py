"""The XNOR popcount of xnor_mvu (dot_xnor.sv) against numpy, bit for bit, for SIMD widths from 1 to 70 (every
remainder mod 3 and mod 6, powers of two and their neighbours): random, all-ones and all-zeros inputs and weights."""
from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType as DT

from finn_nodes import mvau_model
from xnorflow.hw.ops import layer_rtl

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
