"""Binary networks written with plain Brevitas layers (user_models.py): max-pooled CNNs, fully connected MLPs and
LeNet build to hardware, every arrow of the contract holds, the RTL is bit-exact with gaps and stalls; max pools
and float inputs the flow cannot take are refused in one line naming the layer."""
from pathlib import Path

import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import get_by_name
from torch import nn

import user_models as um
from xnorflow.build_flows.export import export
from xnorflow.build_flows.hw_graph import build_hw_graph
from xnorflow.build_flows.verify import integer_logits, output_affine, random_frames, run_graph, verify
from xnorflow.errors import XnorflowError
from xnorflow.hw.accelerator import build_target
from xnorflow.hw.ops.fm_padding import MinPadding

FOLDING = "6000"  # cycles/frame: small RTL, so each Verilator compile stays short
SMALL, MNIST = (1, 1, 12, 12), (1, 1, 28, 28)


def built(tmp_path: Path, model: nn.Module, shape: tuple, seed: int = 0) -> tuple[Path, dict]:
    """Export, build the HW graph and check every arrow of the contract on random input-grid frames."""
    export(model, shape, tmp_path / "m.onnx")
    rep = build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")
    frames = random_frames(shape, 8, 2.0 ** -4, seed)
    arrows = verify(model, tmp_path / "build", frames)
    assert all(a.ok for a in arrows), [str(a) for a in arrows]
    hw = tmp_path / "build" / "hw.onnx"  # argmax ties are judged on integer logits: the host tail gives them
    assert integer_logits(run_graph(hw, frames), output_affine(hw)) is not None
    return tmp_path / "build", rep


@pytest.mark.parametrize("builder,shape,pools", [
    pytest.param(lambda: um.vgg_pool(1), SMALL, 1, id="vgg-1bit"),
    pytest.param(lambda: um.vgg_pool(2), SMALL, 1, id="vgg-2bit"),
    pytest.param(lambda: um.vgg_pool(2, k=3, stride=2, padding=1), SMALL, 1, id="vgg-int2-padded-pool"),
    pytest.param(um.mlp, MNIST, 0, id="mlp"),
    pytest.param(um.lenet, SMALL, 2, id="lenet"),
])
def test_user_model_sim_bit_exact(tmp_path, builder, shape, pools):
    """Builds to --target sim: HW layers only between the host ends, bit-exact RTL (gaps and stalls included)."""
    build, rep = built(tmp_path, um.randomize(builder(), 0), shape)
    assert rep["hw_op_types"].count("Pool") == pools and "ElementwiseMul" not in rep["hw_op_types"]
    sim = build_target(build, "sim", "Pynq-Z2", FOLDING, frames=3)["sim"]
    assert sim["bit_exact"] and sim["ratio_to_bound"] <= 1.02


@pytest.mark.parametrize("builder", [
    pytest.param(lambda: um.vgg_pool(2, signed=False, order="bn-pool", k=3, stride=2), id="uint2-k3s2"),
    pytest.param(lambda: um.vgg_pool(2, k=3, stride=2), id="int2-k3s2"),
    pytest.param(lambda: um.vgg_pool(1, order="bn-pool"), id="bn-pool-sign"),
    pytest.param(lambda: um.vgg_pool(1, k=3, stride=2, padding=1), id="sign-padded"),
    pytest.param(lambda: um.vgg_pool(2, order="bn-pool", k=3, stride=2, padding=1), id="int-acc-padded"),
])
def test_max_pool_variants_exact(tmp_path, builder):
    """Max of signed/unsigned 2-bit codes, kernel 3 stride 2, and a BN with negative scales in front of the pool
    (its sign goes into the conv weights); MaxPool2d(3, 2, padding=1) of signs and of a signed accumulator (padded
    with its type's minimum): one Pool on integers, every arrow exact."""
    _, rep = built(tmp_path, um.randomize(builder(), 1), SMALL, seed=1)
    assert rep["hw_op_types"].count("Pool") == 1 and "ElementwiseMul" not in rep["hw_op_types"]


def test_flatten_after_input_quant(tmp_path):
    """The MLP with its flatten behind the input quantizer: host-side layout, three MVAUs on the stream."""
    _, rep = built(tmp_path, um.randomize(um.mlp(flatten_first=False), 2), MNIST, seed=2)
    assert rep["hw_op_types"] == ["MVAU"] * 3


def refused(tmp_path: Path, model: nn.Module, match: str) -> None:
    """Export, expect one XnorflowError line matching `match` and no build directory."""
    export(model, SMALL, tmp_path / "m.onnx")
    with pytest.raises(XnorflowError, match=match) as err:
        build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")
    assert "\n" not in str(err.value) and not (tmp_path / "build").exists()


def test_padded_max_pool_pads_with_type_minimum(tmp_path):
    """MaxPool2d(3, 2, padding=1) of signed 2-bit codes: its padding is a MinPadding with border -2 (PyTorch's -inf)."""
    build, _ = built(tmp_path, um.randomize(um.vgg_pool(2, k=3, stride=2, padding=1), 1), SMALL, seed=1)
    hw = ModelWrapper(str(build / "hw.onnx"))
    (pad,) = hw.get_nodes_by_op_type("FMPadding")
    assert isinstance(getCustomOp(pad), MinPadding) and hw.get_tensor_datatype(pad.input[0]).min() == -2
    assert getCustomOp(pad).get_nodeattr("Padding") == [1, 1, 1, 1]


def ceil_mode(model: nn.Module) -> nn.Module:
    """`model` with ceil_mode on its max pools."""
    for m in model.modules():
        if isinstance(m, nn.MaxPool2d):
            m.ceil_mode = True
    return model


@pytest.mark.parametrize("build", [lambda: ceil_mode(um.vgg_pool(1)),
                                   lambda: um.vgg_pool(1, stride=3)], ids=["ceil-mode", "stride-over-kernel"])
def test_unsupported_max_pool_refused(tmp_path, build):
    refused(tmp_path, um.randomize(build(), 0), r"unsupported max pool MaxPool 'MaxPool_0' \(node")


def test_max_pool_padded_by_kernel_refused(tmp_path):
    """A hand-edited ONNX MaxPool padded by its kernel: windows of padding only, refused in one line."""
    export(um.randomize(um.vgg_pool(1, k=3, stride=2, padding=1), 0), SMALL, tmp_path / "m.onnx")
    model = ModelWrapper(str(tmp_path / "m.onnx"))
    (pool,) = model.get_nodes_by_op_type("MaxPool")
    get_by_name(pool.attribute, "pads").ints[:] = [3, 3, 3, 3]
    model.save(str(tmp_path / "m.onnx"))
    with pytest.raises(XnorflowError, match=r"unsupported max pool .* pads \[3, 3, 3, 3\]\)") as err:
        build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")
    assert "\n" not in str(err.value)


def test_negative_scale_behind_max_pool_refused(tmp_path):
    """BinaryNet's conv -> pool -> BN with a negative BN scale: max does not commute with it."""
    refused(tmp_path, um.randomize(um.vgg_pool(1, order="pool-bn"), 0),
            r"BatchNormalization '\w+' \(node \d+ of \d+\) scales the max pool MaxPool_0's output by a negative")


def test_float_input_conv_refused(tmp_path):
    refused(tmp_path, um.randomize(um.float_input_conv(), 0), r"Conv 'Conv_0' \(node \d+ of \d+\) reads a float")


@pytest.mark.slow  # BNN-PYNQ widths: a minute (TFC) to several (CNV) on 2 cores
@pytest.mark.parametrize("name,shape", [("tfc_1w1a", MNIST), ("cnv_1w1a", (1, 3, 32, 32))])
def test_bnn_pynq_models_exact(tmp_path, name, shape):
    """FINN's own example nets (brevitas_examples' BNN-PYNQ, random weights and BN) through every arrow."""
    models = pytest.importorskip("brevitas_examples.bnn_pynq.models")
    model = um.randomize(models.model_with_cfg(name, pretrained=False)[0], 0)
    _, rep = built(tmp_path, model, shape)
    assert rep["hw_op_types"].count("MVAU") == (4 if name.startswith("tfc") else 9)
