"""LUTs per MAC lane (PE x SIMD) of xnor_mvu (1-bit) vs mvu at 2 and 4 bits, Yosys synth_xilinx (xc7)."""
import numpy as np
from common import record
from qonnx.core.datatype import DataType

from xnorflow.hw.ops import module_sources
from xnorflow.hw.streams import mem_file
from xnorflow.hw.synth import synthesize

MW, MH, PE, SIMD = 64, 16, 4, 32


def lut_per_lane(module: str, bits: int, rng: np.random.Generator) -> dict:
    """Synthesize one MVU (no activation) with random weights; LUTs (logic + LUTRAM) per lane."""
    wdt = DataType["BINARY"] if bits == 1 else DataType[f"INT{bits}"]
    rows = rng.integers(int(wdt.min()), int(wdt.max()) + 1, ((MW // SIMD) * (MH // PE), PE * SIMD))
    params = {"MW": MW, "MH": MH, "PE": PE, "SIMD": SIMD, "ACCBITS": 2 * bits + 8, "NTHRES": 0,
              "OBITS": 2 * bits + 8, "WEIGHT_STYLE": "distributed"}
    if module == "mvu":
        params |= {"IBITS": bits, "WBITS": bits, "IKIND": 1, "WKIND": 1}
    res = synthesize(module, module_sources(module), params, {"weights.mem": mem_file(rows, wdt)}, nodsp=True)
    lanes = PE * SIMD
    return {"lut": res["lut"], "lutram": res["lutram"], "ff": res["ff"], "lanes": lanes,
            "lut_per_lane": round((res["lut"] + res["lutram"]) / lanes, 2)}


def main() -> None:
    rng = np.random.default_rng(0)
    figures = {"shape": {"MW": MW, "MH": MH, "PE": PE, "SIMD": SIMD},
               "xnor_mvu_1bit": lut_per_lane("xnor_mvu", 1, rng),
               "mvu_2bit": lut_per_lane("mvu", 2, rng), "mvu_4bit": lut_per_lane("mvu", 4, rng)}
    record("hw_lut_per_lane", figures)


if __name__ == "__main__":
    main()
