"""Stream words and DDR frames in numpy alone: what the driver packs and unpacks on a PYNQ board.

The same word format as hw/streams.py `pack_words` (which builds on FINN's packers, not installed on a
board): element i of a word at bits [i*w, (i+1)*w), signed types in two's complement, BIPOLAR {-1,+1} as
bits {0,1}, each word ceil(elems*w/8) little-endian bytes. In DDR a frame is its words back to back, then
zero padding up to `stride` bytes; frames are back to back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import XnorflowError

_INT = re.compile(r"(U?)INT(\d+)")


@dataclass(frozen=True)
class ElemType:
    """An integer stream element: its bit width and encoding."""

    bits: int
    signed: bool = False
    bipolar: bool = False


def elem_type(name: str) -> ElemType:
    """The element type of a FINN data type name (BIPOLAR, BINARY, INTn, UINTn)."""
    if name == "BIPOLAR":
        return ElemType(1, bipolar=True)
    if name == "BINARY":
        return ElemType(1)
    found = _INT.fullmatch(name)
    if not found:
        raise XnorflowError(f"stream data type {name} is not an integer type the driver can pack",
                            "rebuild the deploy folder with this version of xnorflow")
    return ElemType(int(found.group(2)), signed=not found.group(1))


def word_bytes(dtype: str, elems: int) -> int:
    """Bytes of one word of `elems` elements of data type `dtype`."""
    return (elem_type(dtype).bits * elems + 7) // 8


def pack(values: np.ndarray, dtype: str, word_bytes: int) -> np.ndarray:
    """Pack values (last axis = one word's elements) into little-endian words, shape (..., word_bytes) uint8."""
    t = elem_type(dtype)
    v = np.rint(values).astype(np.int64)
    if t.bipolar:
        v = (v + 1) // 2
    v &= (1 << t.bits) - 1
    bits = ((v[..., None] >> np.arange(t.bits)) & 1).astype(np.uint8)
    bits = bits.reshape(*v.shape[:-1], v.shape[-1] * t.bits)
    pad = word_bytes * 8 - bits.shape[-1]
    bits = np.concatenate([bits, np.zeros((*bits.shape[:-1], pad), np.uint8)], axis=-1)
    return np.packbits(bits, axis=-1, bitorder="little")


def unpack(words: np.ndarray, dtype: str, elems: int) -> np.ndarray:
    """Unpack little-endian words (..., word_bytes) uint8 into float32 values (..., elems)."""
    t = elem_type(dtype)
    bits = np.unpackbits(words, axis=-1, bitorder="little")[..., : elems * t.bits]
    bits = bits.reshape(*words.shape[:-1], elems, t.bits).astype(np.int64)
    v = (bits << np.arange(t.bits)).sum(axis=-1)
    if t.signed:
        v = np.where(v >= 1 << (t.bits - 1), v - (1 << t.bits), v)
    if t.bipolar:
        v = 2 * v - 1
    return v.astype(np.float32)


@dataclass(frozen=True)
class PortLayout:
    """One port of the HW part as DDR holds it: its data type, shapes, word bytes and frame stride."""

    dtype: str
    normal: tuple[int, ...]
    folded: tuple[int, ...]
    word_bytes: int
    words_per_frame: int
    stride: int

    @classmethod
    def from_json(cls, entry: dict) -> PortLayout:
        """The layout from its runtime.json entry."""
        return cls(entry["dtype"], tuple(entry["normal"]), tuple(entry["folded"]), entry["word_bytes"],
                   entry["words_per_frame"], entry["stride"])

    def to_frames(self, values: np.ndarray) -> np.ndarray:
        """Frames of `normal`-shaped values (frames, *normal[1:]) as DDR bytes, shape (frames, stride)."""
        n = len(values)
        words = pack(values.reshape(n, self.words_per_frame, self.folded[-1]), self.dtype, self.word_bytes)
        out = np.zeros((n, self.stride), np.uint8)
        out[:, : self.words_per_frame * self.word_bytes] = words.reshape(n, -1)
        return out

    def from_frames(self, data: np.ndarray) -> np.ndarray:
        """DDR bytes (frames, stride) as values of shape (frames, *normal[1:])."""
        n = len(data)
        words = data[:, : self.words_per_frame * self.word_bytes].reshape(n, self.words_per_frame, self.word_bytes)
        return unpack(words, self.dtype, self.folded[-1]).reshape(n, *self.normal[1:])
