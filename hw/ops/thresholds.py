"""Threshold memories shared by the MVAU and Thresholding ops: integer thresholds and threshold_search.sv's
per-stage files (a binary search over each channel's sorted thresholds, one stage per bit of the count).

FINN's thresholds of shape (1, N) are one row shared by every channel (FINN tiles it for its own HLS/RTL): here it
stays one row, threshold_search.sv's SHARED mode, whose roms hold it once instead of once per channel fold.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.datatype import BaseDataType, DataType

from xnorflow.hw.resource_model import Memory
from xnorflow.hw.streams import mem_file

THRESH_FILE = "thresholds"   # threshold_search.sv reads thresholds_s<stage>_p<lane>.mem (shared: _s<stage>.mem)


def clip_thresholds(thr: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Integer thresholds, row by row (one per channel, or one shared), with the same outcome on every value in
    [lo, hi]."""
    thr = np.ceil(np.asarray(thr, dtype=np.float64))
    return np.clip(thr, lo, hi + 1).astype(np.int64)


def is_shared(thr: np.ndarray) -> bool:
    """True if one row of thresholds serves every channel (FINN's shape (1, N))."""
    return thr.shape[0] == 1


def shared_param(thr: np.ndarray) -> dict[str, int]:
    """THRESH_SHARED=1 for a shared row; no parameter (the RTL's default 0) for per-channel rows."""
    return {"THRESH_SHARED": 1} if is_shared(thr) else {}


def search_stages(nthres: int) -> int:
    """Pipeline stages of threshold_search.sv for `nthres` thresholds per channel."""
    return max(nthres, 1).bit_length()


def threshold_mem_files(thr: np.ndarray, pe: int, dtype: BaseDataType, never: int) -> dict[str, str]:
    """threshold_search.sv's memories: stage s of lane p holds, per channel fold, its 2^s thresholds; a shared row's
    stage s holds them once, in one file every lane reads.

    Each channel's thresholds are sorted (the count of reached thresholds does not depend on their
    order) and padded to 2^K - 1 with `never`, a threshold no input value reaches; the count's bit
    K-1-s is then decided by threshold ((2r + 1) << (K-1-s)) - 1, r being the bits found before.
    """
    k = search_stages(thr.shape[1])
    pad = np.full((thr.shape[0], 2 ** k - 1 - thr.shape[1]), never, dtype=np.int64)
    full = np.concatenate([np.sort(thr, axis=1), pad], axis=1)
    files = {}
    for s in range(k):
        cols = ((2 * np.arange(2 ** s) + 1) << (k - 1 - s)) - 1
        if is_shared(thr):
            files[f"{THRESH_FILE}_s{s}.mem"] = mem_file(full[:, cols].reshape(-1, 1), dtype)
            continue
        for p in range(pe):
            files[f"{THRESH_FILE}_s{s}_p{p}.mem"] = mem_file(full[p::pe][:, cols].reshape(-1, 1), dtype)
    return files


def start_mem_files(thr: np.ndarray, pe: int, channels: int, bits: int) -> dict[str, str]:
    """mvu_core.sv's accumulator start values for one threshold per channel (a shared one broadcast): -t in `bits` + 1
    bits, per lane (its output is then the accumulator's sign, acc - t >= 0)."""
    start = -np.broadcast_to(thr[:, :1], (channels, 1))
    return {f"{THRESH_FILE}_start_p{p}.mem": mem_file(start[p::pe], DataType[f"INT{bits + 1}"]) for p in range(pe)}


def threshold_memories(nthres: int, pe: int, folds: int, bits: int, shared: bool = False,
                       style: str = "auto") -> list[Memory]:
    """threshold_search.sv's roms (mvu_core.sv's start roms with one threshold): per stage s and lane, folds x 2^s
    thresholds of `bits`, or 2^s for a shared row (each lane its own copy), in rom.sv's `style`; none without
    thresholds."""
    if not nthres:
        return []
    rows = 1 if shared else folds
    return [Memory(rows << s, bits, "rom", style) for s in range(search_stages(nthres)) for _ in range(pe)]


def compare_bits(nthres: int, pe: int, bits: int) -> float:
    """Comparator bits of threshold_search.sv: a `bits`-wide compare per stage and lane."""
    return float(search_stages(nthres) * pe * bits) if nthres else 0.0


def search_latency(params: dict) -> int:
    """Cycles a layer's threshold search adds to its pipeline (beyond one compare stage)."""
    nthres = params.get("NTHRES", 0)
    return search_stages(nthres) - 1 if nthres else 0
