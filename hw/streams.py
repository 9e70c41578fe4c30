"""Stream and memory-file packing in FINN's folded order, on top of finn.util.data_packing.

A stream word holds the innermost axis of a folded tensor: element i at bits [i*w, (i+1)*w),
signed types in two's complement, BIPOLAR {-1,+1} as bits {0,1} (FINN's encoding after the
XNOR-popcount conversion). FINN's packers do the bit work; this module only fixes the byte
order our testbench and $readmemh files use.
"""
from __future__ import annotations

import numpy as np
from finn.util.data_packing import finnpy_to_packed_bytearray, packed_bytearray_to_finnpy
from qonnx.core.datatype import BaseDataType, DataType

from xnorflow.errors import XnorflowError


def word_bytes(dtype: BaseDataType, elems: int) -> int:
    """Bytes of one little-endian stream word of `elems` elements."""
    return (dtype.bitwidth() * elems + 7) // 8


def pack_words(folded: np.ndarray, dtype: BaseDataType) -> np.ndarray:
    """Pack a folded tensor (last axis = one word) into little-endian words, shape (n, bytes)."""
    _check_integer(dtype)
    elems = folded.shape[-1]
    flat = np.asarray(folded, dtype=np.float32).reshape(-1, elems)
    packed = finnpy_to_packed_bytearray(flat, dtype, reverse_inner=True, reverse_endian=True)
    return np.ascontiguousarray(packed, dtype=np.uint8)


def unpack_words(words: np.ndarray, dtype: BaseDataType, folded_shape: tuple[int, ...]) -> np.ndarray:
    """Unpack little-endian words (n, bytes) into a float32 tensor of `folded_shape`."""
    elems = folded_shape[-1]
    rows = words.reshape(-1, word_bytes(dtype, elems))
    values = packed_bytearray_to_finnpy(np.ascontiguousarray(rows), dtype, (rows.shape[0], elems),
                                        reverse_inner=True, reverse_endian=True)
    return values.reshape(folded_shape)


def mem_file(rows: np.ndarray, dtype: BaseDataType) -> str:
    """$readmemh text: one hex line per row of `rows`, element 0 in the least significant bits."""
    _check_integer(dtype)
    packed = finnpy_to_packed_bytearray(np.asarray(rows, dtype=np.float32), dtype,
                                        reverse_inner=True, reverse_endian=False)
    return "".join(row.tobytes().hex() + "\n" for row in packed)


def signed_type(lo: int, hi: int) -> BaseDataType:
    """The narrowest FINN INTn type that holds every integer in [lo, hi]."""
    bits = max(int(lo).bit_length() if lo >= 0 else (-int(lo) - 1).bit_length(),
               int(hi).bit_length() if hi >= 0 else (-int(hi) - 1).bit_length()) + 1
    return DataType[f"INT{max(bits, 2)}"]


def operand_kind(dtype: BaseDataType) -> int:
    """Operand encoding for operand_decode.sv: 0 unsigned, 1 signed, 2 bipolar."""
    _check_integer(dtype)
    if dtype == DataType["BIPOLAR"]:
        return 2
    return 1 if dtype.signed() else 0


def _check_integer(dtype: BaseDataType) -> None:
    """Raise unless `dtype` is an integer type the hardware can carry."""
    if not dtype.is_integer() or dtype == DataType["TERNARY"]:
        raise XnorflowError(f"stream data type {dtype.name} is not supported in hardware",
                            "quantize the tensor to an INTn, UINTn, BINARY or BIPOLAR type")


def random_tensor(rng: np.random.Generator, dtype: BaseDataType, shape) -> np.ndarray:
    """Random tensor over the full range of FINN data type `dtype` (float32, as FINN executes)."""
    if dtype == DataType["BIPOLAR"]:
        return rng.choice([-1.0, 1.0], shape).astype(np.float32)
    return rng.integers(int(dtype.min()), int(dtype.max()) + 1, shape).astype(np.float32)
