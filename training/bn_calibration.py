"""BatchNorm re-estimation: running statistics recomputed with the eval (hard-sign) forward after binary training.

Training normalises with the statistics of the STE/warm-up forward, which differs from the hard sign that eval,
the exported graph and the hardware run; the running averages of a fast optimizer also lag the weights (with
AMSGrad at 5e-3 the test accuracy of tiny-hyperbnn swung 0.22 -> 0.62 between epochs). Recomputing them on the
training data with every quantizer in eval mode is Bi-Real Net's BN re-training step (Sec. 4.1: weights frozen,
BN re-fitted to absorb the change). It runs before snapping (training/requant.py), so what is exported and built
is the re-estimated model.
"""
from itertools import islice
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from xnorflow.errors import XnorflowError
from xnorflow.training import devices
from xnorflow.training.recipes import BN_BATCHES

def reestimate(model: nn.Module, dataset: Dataset, batch_size: int, batches: int = BN_BATCHES, seed: int = 0) -> dict:
    """Set every BatchNorm's running mean/var to their average over `batches` batches of the eval forward."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in norms]
    model.eval()
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches seen
        bn.train()
    seen = 0
    loader = DataLoader(dataset, batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for seen, (images, _) in enumerate(islice(loader, batches), 1):
            model(images.to(devices.of(model)))
    for bn, momentum in zip(norms, momenta):
        bn.momentum = momentum
    model.eval()
    return {"batches": seen, "images": min(len(dataset), seen * batch_size)}


def _check_replaceable(out: Path) -> None:
    """Refuse an existing --out that is not an xnorflow checkpoint: calibrate replaces only its own kind of file."""
    from xnorflow.training import checkpoint

    try:
        checkpoint.load(out)
    except XnorflowError:
        raise XnorflowError(f"--out {out} exists and is not an xnorflow checkpoint; it is left as it is",
                            "choose a new path for the calibrated checkpoint") from None


def calibrate_checkpoint(path: str | Path, data: str | None = None, data_root: str | None = None,
                         batches: int = BN_BATCHES, batch_size: int = 64, out: str | Path | None = None) -> dict:
    """Re-estimate the BatchNorms of an xnorflow checkpoint on its training data; writes it to `out` (default: itself)."""
    from xnorflow.training import checkpoint
    from xnorflow.training.data import load_dataset

    ckpt = checkpoint.load(path)
    if out is not None and Path(out).exists():
        _check_replaceable(Path(out))
    name = data or ckpt.get("data")
    if name is None:
        raise XnorflowError(f"checkpoint {path} does not record its data set", "pass --data")
    model = checkpoint.build_from(ckpt, str(path))
    bundle = load_dataset(name, data_root, ckpt["input_size"])
    if (bundle.in_channels, bundle.num_classes) != (ckpt["in_channels"], ckpt["num_classes"]):
        raise XnorflowError(f"data set '{name}' ({bundle.in_channels} channels, {bundle.num_classes} classes) is not "
                            f"what {path} was trained on ({ckpt['in_channels']} channels, {ckpt['num_classes']} "
                            "classes)", "pass the --data it was trained on")
    ckpt["calibration"] = {"data": name, **reestimate(model, bundle.train, batch_size, batches)}
    ckpt["state_dict"] = model.state_dict()
    checkpoint.save_atomic(ckpt, Path(out or path))
    return ckpt["calibration"]
