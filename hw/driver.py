"""The driver API of a built accelerator, over its Verilator model: `execute(images) -> logits`.

It takes float NCHW images. The host-side ends of hw.onnx (the 8-bit input quantizer with its layout
change, and the final logit scale) run in python through qonnx; the HW part runs as the stitched RTL,
cycle-accurately in Verilator. A PYNQ board would put its DMA transfer where `run_design` is.
Opening the driver reads the build (open_build) and writes nothing into it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from finn.util.settings import initialize_dummy_settings
from xnorflow.build_flows.hw_graph import split_host
from xnorflow.hw.accelerator import run_design
from xnorflow.hw.build import open_build


def run_graph(model: ModelWrapper, x: np.ndarray) -> np.ndarray:
    """Execute a host-side graph on one input (an empty graph passes it through)."""
    if not model.graph.node:
        return x
    return execute_onnx(model, {model.graph.input[0].name: x})[model.graph.output[0].name]


class VerilatorAccelerator:
    """A build directory's RTL behind the driver API, simulated cycle-accurately in Verilator."""

    def __init__(self, build_dir: str | Path) -> None:
        initialize_dummy_settings()
        self.build = open_build(build_dir)
        self.build_dir = self.build.path
        self.pre, _, self.post = split_host(self.build.hw_graph())
        self.last_cycles = 0

    def execute(self, images: np.ndarray) -> np.ndarray:
        """Logits for a batch of float NCHW images; `last_cycles` holds the simulated cycles of this batch."""
        ins = np.stack([run_graph(self.pre, image[None].astype(np.float32))[0] for image in images])
        outs, stats = run_design(self.build, ins)
        self.last_cycles = stats.cycles
        shape = self.post.get_tensor_shape(self.post.graph.input[0].name)
        return np.concatenate([run_graph(self.post, out.reshape(shape)) for out in outs]).reshape(len(images), -1)
