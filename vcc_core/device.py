"""Where tensors live and in which precision: one place decides for DE, metrics and models.

:func:`get_device` picks CUDA when torch sees a GPU, else the CPU; ``VCC_DEVICE`` (``cpu``, ``cuda``, ``cuda:N``
or ``auto``) overrides the choice, e.g. to keep a shared GPU free or to reproduce a CPU result. Computations run in
:data:`DEFAULT_DTYPE` (float32): log1p expression needs no more, and float32 halves memory and is what GPUs are
fast at. Code that must match a float64 reference converts explicitly.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

ENV_DEVICE = "VCC_DEVICE"
_DEVICE = re.compile(r"cpu|cuda(?::\d+)?")
_GPU_NODES = ("/dev/nvidiactl", "/dev/dxg")  # NVIDIA's driver (Linux, WSL): without it CUDA cannot be there


def __getattr__(name: str):
    """``DEFAULT_DTYPE``, torch's float32: torch is imported on first use, not by importing this module."""
    if name == "DEFAULT_DTYPE":
        import torch

        return torch.float32
    msg = f"module 'vcc_core.device' has no attribute {name!r}"
    raise AttributeError(msg)


def gpu_possible() -> bool:
    """Whether :func:`get_device` could pick a GPU: False when ``VCC_DEVICE`` says ``cpu``, or when it leaves the
    choice to us and this machine has no NVIDIA driver and torch is not loaded. Lets CPU-only work skip
    importing torch (over a second)."""
    spec = os.environ.get(ENV_DEVICE, "").strip().lower()
    if spec == "cpu":
        return False
    if spec not in {"", "auto"} or "torch" in sys.modules:
        return True
    return any(os.path.exists(node) for node in _GPU_NODES)


def gpu_device(requested: str | torch.device | None = None) -> torch.device | None:
    """The GPU :func:`get_device` picks for ``requested``, or None where the work runs on the CPU (torch is not
    imported where no GPU can be: :func:`gpu_possible`)."""
    if requested is None and not gpu_possible():
        return None
    device = get_device(requested)
    return device if device.type != "cpu" else None


def get_device(requested: str | torch.device | None = None) -> torch.device:
    """The torch device to compute on.

    Parameters
    ----------
    requested
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``; ``None`` reads ``VCC_DEVICE`` and falls back to ``auto``
        (CUDA when available, else CPU).

    Raises ``ValueError`` naming the setting for a malformed value, for CUDA when torch sees no GPU, and for a
    GPU index past the last one.
    """
    import torch

    source = "device"
    if requested is None:
        requested, source = os.environ.get(ENV_DEVICE, ""), ENV_DEVICE
    spec = str(requested).strip().lower()
    if spec in {"", "auto"}:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not _DEVICE.fullmatch(spec):
        msg = f"{source}={requested!r} is not a device: use 'cpu', 'cuda', 'cuda:N' or 'auto'"
        raise ValueError(msg)
    device = torch.device(spec)
    if device.type == "cuda":
        _check_cuda(device, source=source)
    return device


def _check_cuda(device: torch.device, *, source: str) -> None:
    import torch

    if not torch.cuda.is_available():
        msg = f"{source}={str(device)!r} asks for CUDA, but torch {torch.__version__} sees no CUDA device; use 'cpu'"
        raise ValueError(msg)
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        msg = f"{source}={str(device)!r}: there are {count} CUDA device(s), numbered 0 to {count - 1}"
        raise ValueError(msg)


def as_tensor(
    values: np.ndarray | torch.Tensor, *, device: str | torch.device | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """``values`` as a tensor of ``dtype`` (default float32) on ``device`` (default :func:`get_device`), sharing
    memory when it can."""
    import torch

    dtype = torch.float32 if dtype is None else dtype
    target = device if isinstance(device, torch.device) else get_device(device)
    if isinstance(values, torch.Tensor):
        return values.to(device=target, dtype=dtype)
    return torch.as_tensor(np.asarray(values), dtype=dtype, device=target)


def to_numpy(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """A numpy array with the values of ``values``, moved to the CPU and detached from autograd.

    bfloat16 and float8 tensors, which numpy cannot represent, come back as float32. A CPU tensor's array may
    share its memory; copy it before changing either.
    """
    if isinstance(values, np.ndarray):
        return values
    import torch

    tensor = values.detach()
    if tensor.dtype in {torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2}:  # numpy has no such type
        tensor = tensor.float()
    return tensor.numpy(force=True)


__all__ = ["DEFAULT_DTYPE", "ENV_DEVICE", "as_tensor", "get_device", "gpu_possible", "to_numpy"]  # noqa: F822 (lazy)
