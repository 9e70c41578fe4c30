"""Where a run computes: the device (`--device`), torchrun's process group (NCCL between GPUs, gloo between CPUs)
and mixed precision (`--amp`)."""
import os
import re
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.distributed as dist
from torch import nn

from xnorflow.errors import XnorflowError

DEVICES = "auto, cpu, cuda or cuda:N"


def world_size() -> int:
    """Processes in the whole run (torchrun's WORLD_SIZE; 1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    """This process's index on its node (torchrun's LOCAL_RANK): the GPU it takes."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def cpus_per_rank() -> int:
    """The CPU cores this process may use, shared evenly with the other ranks on its node."""
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size())))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // local_world)


def resolve(spec: str) -> torch.device:
    """--device auto|cpu|cuda|cuda:N as a torch device; auto is cuda when torch sees one, and under torchrun
    'cuda' is this rank's cuda:LOCAL_RANK."""
    match = re.fullmatch(r"auto|cpu|cuda(?::(\d+))?", spec)
    if match is None:
        raise XnorflowError(f"--device {spec!r} is not one of {DEVICES}", "e.g. --device cuda, or --device cpu")
    if spec == "cpu" or (spec == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise XnorflowError(f"--device {spec}: this torch ({torch.__version__}) sees no CUDA device",
                            "use --device cpu (or auto), or install a CUDA build of torch on a machine with a GPU")
    if match.group(1) is not None and world_size() > 1:
        raise XnorflowError(f"--device {spec} names one GPU for all {world_size()} torchrun processes",
                            "use --device cuda: each process takes the GPU cuda:LOCAL_RANK")
    index = int(match.group(1)) if match.group(1) is not None else local_rank()
    if index >= torch.cuda.device_count():
        raise XnorflowError(f"--device: cuda:{index} does not exist (this node has {torch.cuda.device_count()} "
                            "CUDA devices)", "start at most that many processes per node, or name an existing GPU")
    return torch.device("cuda", index)


def init_distributed(device: torch.device) -> bool:
    """Join the process group torchrun describes: NCCL between GPUs, gloo between CPU processes (which then share
    the cores); True when this call created it, False for one process or a group already joined."""
    if world_size() == 1 or dist.is_initialized():
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
        torch.set_num_threads(cpus_per_rank())
    return True


def barrier() -> None:
    """Wait for every rank (a no-op for one process)."""
    if dist.is_initialized():
        dist.barrier()


def check_amp(device: torch.device) -> None:
    """Refuse --amp on a GPU without bfloat16 (pre-Ampere), with the way out."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise XnorflowError(f"--amp trains in bfloat16, which {torch.cuda.get_device_name(device)} lacks",
                            "train without --amp on this GPU")


def autocast(device: torch.device, amp: bool) -> AbstractContextManager:
    """bfloat16 autocast of the float parts (convs, linears) when `amp`; the quantizers stay float32 (quantizers.fp32).

    bfloat16 keeps float32's exponent range, so no loss scaling (GradScaler) is needed and a checkpoint carries no
    scaler state: the same run resumes on CPU or GPU."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if amp else nullcontext()


def of(model: nn.Module) -> torch.device:
    """The device `model`'s parameters are on."""
    return next(model.parameters()).device
