"""The driver API of a built accelerator, over its Verilator model: `execute(images) -> logits`.

It takes float NCHW images. The host-side ends of hw.onnx (the 8-bit input quantizer with its layout
change, and the final logit scale) run in python through qonnx; the HW part runs as the stitched RTL,
cycle-accurately in Verilator. A PYNQ board would put its DMA transfer where `run_design` is.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from finn.util.fpgadataflow import is_fpgadataflow_node
from finn.util.settings import initialize_dummy_settings
from xnorflow.build_dir import locked
from xnorflow.errors import XnorflowError
from xnorflow.hw.accelerator import remake_rtl, run_design


def _keep(model: ModelWrapper, nodes: list, inp: str, out: str) -> ModelWrapper:
    """A copy of `model` with only `nodes`, reading tensor `inp` and producing tensor `out`."""
    part = ModelWrapper(model.model.__deepcopy__())
    names = {n.name for n in nodes}
    for node in [n for n in part.graph.node if n.name not in names]:
        part.graph.node.remove(node)
    for io, name in ((part.graph.input, inp), (part.graph.output, out)):
        vi = part.get_tensor_valueinfo(name)
        if vi in part.graph.value_info:
            part.graph.value_info.remove(vi)
        del io[:]
        io.append(vi)
    return part


def host_ends(model: ModelWrapper) -> tuple[ModelWrapper, ModelWrapper]:
    """The host's pre-processing (graph input -> first HW input) and post-processing (last HW output -> logits)."""
    nodes = list(model.graph.node)
    hw = [i for i, n in enumerate(nodes) if is_fpgadataflow_node(n)]
    if not hw:
        raise XnorflowError("hw.onnx has no HW layers", "rebuild it with `xnorflow build --target hw-graph`")
    first, last = nodes[hw[0]], nodes[hw[-1]]
    pre = _keep(model, nodes[:hw[0]], model.graph.input[0].name, first.input[0])
    post = _keep(model, nodes[hw[-1] + 1:], last.output[0], model.graph.output[0].name)
    return pre, post


def _run(model: ModelWrapper, x: np.ndarray) -> np.ndarray:
    if not model.graph.node:
        return x
    return execute_onnx(model, {model.graph.input[0].name: x})[model.graph.output[0].name]


class VerilatorAccelerator:
    """A build directory's RTL behind the driver API, simulated cycle-accurately in Verilator."""

    def __init__(self, build_dir: str | Path) -> None:
        self.build_dir = Path(build_dir).resolve()
        initialize_dummy_settings()
        with locked(self.build_dir):
            self.design, _, _ = remake_rtl(self.build_dir)
        self.pre, self.post = host_ends(ModelWrapper(str(self.build_dir / "hw.onnx")))
        self.last_cycles = 0

    def execute(self, images: np.ndarray) -> np.ndarray:
        """Logits for a batch of float NCHW images; `last_cycles` holds the simulated cycles of this batch."""
        ins = np.stack([_run(self.pre, image[None].astype(np.float32))[0] for image in images])
        outs, stats = run_design(self.design, ins)
        self.last_cycles = stats.cycles
        shape = self.post.get_tensor_shape(self.post.graph.input[0].name)
        return np.concatenate([_run(self.post, out.reshape(shape)) for out in outs]).reshape(len(images), -1)
