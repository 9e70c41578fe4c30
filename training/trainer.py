"""`xnorflow train`: runs a recipe's steps with checkpoints every epoch, resume after a kill, metrics, DDP.

Before the first step it chooses the run's input and shortcut grids from the data (training/ranges.py) once, in
ranges.json, so that a resumed run, every step and every checkpoint's spec use the same ones.

Distributed training is torch's own DDP (NCCL between GPUs, gloo on CPU), started by torchrun; rank 0 writes all
files, and every rank resumes from the same checkpoints.
"""
import json
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm import tqdm

from xnorflow.chatter import say, terminal
from xnorflow.errors import XnorflowError
from xnorflow.training import checkpoint, devices, metrics, ranges
from xnorflow.training.bn_calibration import reestimate
from xnorflow.training.data import DataBundle, load_dataset
from xnorflow.training.layers import QuantSpec
from xnorflow.training.losses import objective
from xnorflow.training.models.catalog import entry
from xnorflow.training.models.registry import build_model
from xnorflow.training.quantizers import SignQuant
from xnorflow.training.recipes import Step, recipe
from xnorflow.training.ste import warmup_lambda


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; a resumed run must be started with the same values."""

    model: str
    data: str
    out: str
    recipe: str = "bireal"
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0
    data_root: str | None = None
    teacher: str | None = None
    estimator: str | None = None
    attention_weight: float | None = None
    until: str | None = None
    options: dict[str, bool] | None = None
    shortcut_bits: int = 8
    shortcut_frac_bits: int = 4  # with fixed_ranges; otherwise chosen from the data (training/ranges.py)
    fixed_ranges: bool = False
    limit: int | None = None
    progress: bool = True
    device: str = "auto"
    workers: int | None = None
    amp: bool = False


EXECUTION = ("out", "progress", "until", "device", "workers")  # may change when a run is resumed


def rank() -> int:
    """This process's DDP rank (0 when not distributed)."""
    return dist.get_rank() if dist.is_initialized() else 0


def run(cfg: TrainConfig) -> dict:
    """Train every step of the recipe (resuming where a previous run stopped); returns the final summary."""
    device = devices.resolve(cfg.device)
    if cfg.amp:
        devices.check_amp(device)
    joined = devices.init_distributed(device)
    try:
        return _train(cfg, device)
    finally:
        if joined:
            dist.destroy_process_group()


def _train(cfg: TrainConfig, device: torch.device) -> dict:
    """run()'s work once the device and the process group are set."""
    entry(cfg.model)
    steps = recipe(cfg.recipe, cfg.estimator, cfg.attention_weight, cfg.until)
    out = Path(cfg.out)
    _claim_out_dir(cfg, out)
    data = load_dataset(cfg.data, cfg.data_root, random_resize=cfg.recipe != "bireal")
    build_model(cfg.model, data.num_classes, data.in_channels, data.input_size, QuantSpec(), cfg.options)
    grids = _grids(cfg, steps, data, out, device)
    spec = replace(QuantSpec(shortcut_bits=cfg.shortcut_bits), input_frac_bits=grids["input_frac_bits"],
                   shortcut_frac_bits=grids["shortcut_frac_bits"])
    if rank() == 0:
        say(ranges.describe(spec, grids))
    given = _teacher(cfg, data, device)
    history: list[dict] = []
    previous: dict | None = None
    for number, step in enumerate(steps, 1):
        teacher = _previous_model(previous).to(device) if step.teacher == "previous" else given
        label = f"step {number} of {len(steps)} ({step.name})"
        previous = _run_step(cfg, step, label, spec, data, teacher, previous, history, out, device)
    summary = {"model": cfg.model, "data": cfg.data, "recipe": cfg.recipe, "steps": [s.name for s in steps],
               "test_acc": history[-1]["test_acc"], "epochs": cfg.epochs, "checkpoint": str(out / "model.pt"),
               "ranges": grids}
    if rank() == 0:
        checkpoint.save_atomic(previous, out / "model.pt")
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    devices.barrier()
    return summary


def _claim_out_dir(cfg: TrainConfig, out: Path) -> None:
    """Refuse an output dir holding another run (every rank checks before rank 0 writes); record this run's config.

    A setting missing from an older config.json had its default then; device and workers may change on resume."""
    path = out / "config.json"
    mine = {k: v for k, v in asdict(cfg).items() if k not in EXECUTION}
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    if out.exists() and not out.is_dir():
        raise XnorflowError(f"--out {out} is a file, not a run folder", "name a new folder for the run")
    if out.is_dir() and any(out.iterdir()) and not _is_run(path):
        raise XnorflowError(f"--out {out} is a folder that `xnorflow train` did not write (no run config.json)",
                            "name a new folder for the run, e.g. --out runs/NAME")
    if path.exists():
        theirs = json.loads(path.read_text())
        changed = [k for k in mine if theirs.get(k, defaults[k]) != mine[k]]
        if changed:
            raise XnorflowError(f"{out} holds a run with other settings ({', '.join(changed)} differ)",
                                "use a new --out, or repeat the original command to resume it")
    devices.barrier()
    if rank() == 0 and not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(mine, indent=1))


def _is_run(config: Path) -> bool:
    """True when `config` is the config.json of an xnorflow training run."""
    try:
        record = json.loads(config.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and {"model", "recipe", "data"} <= record.keys()


def _grids(cfg: TrainConfig, steps: list[Step], data: DataBundle, out: Path, device: torch.device) -> dict:
    """The run's input and shortcut frac_bits, chosen once and kept in ranges.json: from the data (training/ranges.py)
    unless --fixed-ranges or no step is quantized; a run begun before ranges.json keeps its first checkpoint's."""
    path, first = out / "ranges.json", out / steps[0].name / "checkpoint.pt"
    asked = {"shortcut_bits": cfg.shortcut_bits, "fixed_ranges": cfg.fixed_ranges}
    if _agreed(path.exists(), f"whether {path} exists"):
        return _resumed_grids(path, asked)
    quantized = [s for s in steps if QuantSpec(precision=s.precision).quantized]
    if _agreed(first.exists(), f"whether {first} exists"):
        spec = checkpoint.load(first)["spec"]
        grids = {"chosen": "as the run's first checkpoint", **{k: spec[k] for k in ranges.FRAC_FIELDS}}
    elif cfg.fixed_ranges or not quantized:
        grids = {"chosen": "fixed" if quantized else "fixed (no step is quantized)",
                 "input_frac_bits": QuantSpec.input_frac_bits, "shortcut_frac_bits": cfg.shortcut_frac_bits}
    else:
        grids = _from_data(cfg, quantized[0], data, device)
    grids |= asked
    if rank() == 0:
        path.write_text(json.dumps(grids, indent=1))
    devices.barrier()
    return grids


def _resumed_grids(path: Path, asked: dict) -> dict:
    """The grids of ranges.json, which a resumed run keeps; one line where it asks for other shortcut bits or
    range setting than the run was begun with."""
    grids = json.loads(path.read_text())
    for key, value in asked.items():
        if key in grids and grids[key] != value:
            raise XnorflowError(f"{path} was chosen with {key} {grids[key]}; this run asks for {value}",
                                "resume with the settings the run was begun with, or train into a new --out")
    return grids


def _from_data(cfg: TrainConfig, step: Step, data: DataBundle, device: torch.device) -> dict:
    """ranges.choose on rank 0 with the initial model of the first quantized `step`, sent to every rank."""
    def initial(spec: QuantSpec) -> nn.Module:
        torch.manual_seed(cfg.seed)
        return build_model(cfg.model, data.num_classes, data.in_channels, data.input_size,
                           spec.for_step(step.precision, step.estimator), cfg.options).to(device)

    grids = None
    if rank() == 0:
        torch.manual_seed(cfg.seed)   # the data's augmentation draws from the global generator
        batches = ranges.calibration_batches(_limit(data.train, cfg.limit), cfg.batch_size, cfg.seed)
        chosen = ranges.choose(initial, QuantSpec(shortcut_bits=cfg.shortcut_bits), data.pixel_range, batches)
        grids = {"chosen": f"from the data (step '{step.name}' at initialisation)", **asdict(chosen)}
    if dist.is_initialized():
        box = [grids]
        dist.broadcast_object_list(box, src=0)
        grids = box[0]
    return grids


def _teacher(cfg: TrainConfig, data: DataBundle, device: torch.device) -> nn.Module | None:
    """The --teacher model on the run's device (None without one)."""
    if cfg.teacher is None:
        return None
    from xnorflow.training.teacher import load_teacher

    return load_teacher(cfg.teacher, data.in_channels, data.input_size, data.num_classes).to(device)


def _previous_model(previous: dict | None) -> nn.Module:
    """The previous step's model, frozen in eval mode, as this step's teacher (R2B progressive teacher-student)."""
    if previous is None:
        raise XnorflowError("a recipe's first step cannot use the previous step as teacher",
                            "fix the recipe: teacher='previous' needs an earlier step")
    model = checkpoint.build_from(previous, f"checkpoint of step '{previous['step']}'")
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _run_step(cfg: TrainConfig, step: Step, label: str, spec: QuantSpec, data: DataBundle,
              teacher: nn.Module | None, previous: dict | None, history: list[dict], out: Path,
              device: torch.device) -> dict:
    """Train one recipe step (`label`: its place in the recipe) to cfg.epochs, resuming; its final checkpoint."""
    torch.manual_seed(cfg.seed)
    step_spec = spec.for_step(step.precision, step.estimator)
    model = build_model(cfg.model, data.num_classes, data.in_channels, data.input_size, step_spec, cfg.options)
    if previous is not None:
        checkpoint.load_state(model, previous["state_dict"], f"checkpoint of step '{previous['step']}'")
    model.to(device)
    loader = _loader(cfg, data, data.train, device, shuffle=True)
    optimizer = _optimizer(model, step)
    scheduler = _scheduler(optimizer, step, cfg.epochs, len(loader))
    ckpt_path = out / step.name / "checkpoint.pt"
    start = _resume(ckpt_path, cfg, model, optimizer, scheduler, history)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if dist.is_initialized() else model
    meta = checkpoint.model_meta(cfg.model, step_spec, data.in_channels, data.num_classes, data.input_size,
                                 cfg.options, cfg.data)
    state = None
    for epoch in range(start, cfg.epochs):
        began = time.time()
        train_loss, train_acc = _train_epoch(ddp, loader, optimizer, scheduler, teacher, step, label, epoch, cfg)
        calibration = _calibrate(model, step, data, cfg) if epoch + 1 == cfg.epochs else None
        test_loss, test_acc = evaluate(model, _loader(cfg, data, data.test, device, shuffle=False, batch_size=256))
        history.append({"step": step.name, "epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc,
                        "test_loss": test_loss, "test_acc": test_acc, "lr": scheduler.get_last_lr()[0],
                        "seconds": round(time.time() - began, 3)})
        state = {"format": checkpoint.FORMAT, **meta, "step": step.name, "epoch": epoch + 1,
                 "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(), "history": history,
                 "calibration": calibration}
        if rank() == 0:
            checkpoint.save_atomic(state, ckpt_path)
            metrics.write(history, out)
        devices.barrier()  # no rank goes on (or is killed) before the epoch's checkpoint is whole on disk
    return state if state is not None else checkpoint.load(ckpt_path)


def _calibrate(model: nn.Module, step: Step, data: DataBundle, cfg: TrainConfig) -> dict | None:
    """BN re-estimation with the hard-sign forward at the end of a step with binary activations (None otherwise)."""
    if step.precision not in ("binact", "binary"):
        return None
    return {"data": cfg.data, **reestimate(model, _limit(data.train, cfg.limit), cfg.batch_size, seed=cfg.seed)}


def _resume(path: Path, cfg: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
            scheduler: torch.optim.lr_scheduler.LRScheduler, history: list[dict]) -> int:
    """Restore a step's checkpoint if one exists; returns the first epoch still to run (the same on every rank)."""
    if not _agreed(path.exists(), f"whether {path} exists"):
        return 0
    ckpt = checkpoint.load(path)
    _agreed(ckpt["epoch"], f"the epoch of {path}")
    if ckpt.get("upgraded_from") and (ckpt["epoch"] < cfg.epochs or ckpt["options"] != (cfg.options or {})):
        raise XnorflowError(f"{path} was written by an older xnorflow ({ckpt['upgraded_from']}), whose recipes "
                            "and blocks differ", "finish it with the xnorflow that started it, or train again "
                            "into a new --out")
    checkpoint.load_state(model, ckpt["state_dict"], str(path))
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng"])
    history[:] = ckpt["history"]
    return ckpt["epoch"]


def _agreed(value: object, what: str) -> object:
    """`value` when every rank found the same (an --out that only some nodes see is one clear error)."""
    if not dist.is_initialized():
        return value
    seen: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(seen, value)
    if any(v != value for v in seen):
        raise XnorflowError(f"the ranks disagree on {what} ({seen}, by rank)",
                            "put --out on a folder that every node shares")
    return value


def _limit(dataset: Dataset, limit: int | None) -> Dataset:
    return Subset(dataset, range(min(limit, len(dataset)))) if limit else dataset


def _loader(cfg: TrainConfig, data: DataBundle, dataset: Dataset, device: torch.device, shuffle: bool,
            batch_size: int | None = None) -> DataLoader:
    """Batches of `dataset` for `device`: training (shuffle) batches in an order fixed by seed and epoch, sharded
    across DDP ranks (DistributedSampler pads every rank to the same count, so all run the same number of steps);
    test batches whole on every rank. Workers start anew each epoch, seeded from the run's random state (which a
    checkpoint restores), so a resumed run augments as the uninterrupted one did."""
    dataset = _limit(dataset, cfg.limit)
    workers = cfg.workers if cfg.workers is not None else min(8, devices.cpus_per_rank()) if data.streamed else 0
    batching = {"batch_size": batch_size or cfg.batch_size, "num_workers": workers,
                "pin_memory": device.type == "cuda"}
    if not shuffle:
        return DataLoader(dataset, **batching)
    if dist.is_initialized():
        return DataLoader(dataset, sampler=DistributedSampler(dataset, shuffle=True, seed=cfg.seed), **batching)
    return DataLoader(dataset, shuffle=True, generator=torch.Generator(), **batching)


def _set_epoch(loader: DataLoader, seed: int, epoch: int) -> None:
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
    else:
        loader.generator.manual_seed(seed * 1000 + epoch)


def _optimizer(model: nn.Module, step: Step) -> torch.optim.Optimizer:
    """Adam, AMSGrad or SGD with momentum; weight decay only on conv/linear weights (not BN, shifts, slopes, scales)."""
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and n.endswith(".weight")]
    rest = [p for p in model.parameters() if all(p is not q for q in decay)]
    groups = [{"params": decay, "weight_decay": step.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if step.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=step.lr, momentum=step.momentum)
    return torch.optim.Adam(groups, lr=step.lr, betas=step.betas, amsgrad=step.optimizer == "amsgrad")


def _scheduler(optimizer: torch.optim.Optimizer, step: Step, epochs: int,
               batches: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The step's per-iteration schedule, after a linear warm-up of `step.warmup_epochs` epochs if it has one."""
    lrs = torch.optim.lr_scheduler
    warm = min(step.warmup_epochs * batches, epochs * batches)
    total = epochs * batches - warm
    if step.schedule == "linear":
        main = lrs.LinearLR(optimizer, 1.0, 0.0, total_iters=max(1, total))
    elif step.schedule == "multistep":
        main = lrs.MultiStepLR(optimizer, [max(1, round(f * epochs * batches) - warm) for f in step.milestones],
                               step.gamma)
    else:
        main = lrs.CosineAnnealingLR(optimizer, T_max=max(1, total))
    if not warm:
        return main
    return lrs.SequentialLR(optimizer, [lrs.LinearLR(optimizer, 1.0 / warm, 1.0, total_iters=warm), main], [warm])


def _set_warmup(model: nn.Module, step: Step, iteration: int, total: int) -> None:
    """Set lambda_t of every STE-Warmup sign (Hyper-BinaryNet Eq. 6); S spreads `warmup_decays` decays over training."""
    lam = warmup_lambda(iteration, step.warmup_sigma, step.warmup_milestone, max(1, total // step.warmup_decays))
    for module in model.modules():
        if isinstance(module, SignQuant):
            module.warmup_lambda.fill_(lam)


def _train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, teacher: nn.Module | None, step: Step,
                 label: str, epoch: int, cfg: TrainConfig) -> tuple[float, float]:
    """One pass over the training data; returns mean loss and accuracy (reduced over ranks)."""
    model.train()
    _set_epoch(loader, cfg.seed, epoch)
    device = devices.of(model)
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    bar = tqdm(loader, desc=f"{label} epoch {epoch + 1}/{cfg.epochs}", leave=False, file=terminal(err=True),
               disable=True if not cfg.progress or rank() != 0 else None)  # None: off where stderr is no terminal
    for i, (images, target) in enumerate(bar):
        images, target = images.to(device, non_blocking=True), target.to(device, non_blocking=True)
        if step.estimator == "warmup":
            _set_warmup(model, step, epoch * len(loader) + i, cfg.epochs * len(loader))
        with devices.autocast(device, cfg.amp):
            loss, logits = objective(model, teacher, images, target, step.kd, step.attention_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        sums += torch.stack([loss.detach().double() * len(target), (logits.argmax(1) == target).sum(),
                             torch.tensor(len(target), device=device)])
        if not bar.disable:  # reading the sums waits for the GPU: only for a bar that shows them
            bar.set_postfix(loss=f"{sums[0] / sums[2]:.3f}", acc=f"{sums[1] / sums[2]:.3f}")
    if dist.is_initialized():
        dist.all_reduce(sums)
    return round(float(sums[0] / sums[2]), 6), round(float(sums[1] / sums[2]), 6)


def evaluate(model: nn.Module, loader: DataLoader) -> tuple[float, float]:
    """Test loss and accuracy of the eval-mode model in float32 (every rank computes the same numbers)."""
    model.eval()
    device = devices.of(model)
    loss = correct = 0.0
    with torch.no_grad():
        for images, target in loader:
            images, target = images.to(device, non_blocking=True), target.to(device, non_blocking=True)
            logits = model(images)
            loss += F.cross_entropy(logits, target, reduction="sum").item()
            correct += (logits.argmax(1) == target).sum().item()
    n = len(loader.dataset)
    return round(loss / n, 6), round(correct / n, 6)
