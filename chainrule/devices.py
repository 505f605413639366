"""Devices, honestly: chainrule computes with NumPy on the CPU, and ``cpu`` is its one device.

PyTorch code names devices (``device = torch.device("cuda" if torch.cuda.is_available() else "cpu")``,
``x.to(device)``, ``model.to(device)``); the same lines run here, and asking for a device that is
not there is an error naming the one that is.
"""

from __future__ import annotations

import types
from typing import Any

AVAILABLE = ("cpu",)


class device:  # noqa: N801 (PyTorch's name)
    """A device: ``cr.device("cpu")`` (also ``"cpu:0"``). Any other device raises, naming ``cpu``.

    Example:
        >>> import chainrule as cr
        >>> d = cr.device("cuda" if cr.cuda.is_available() else "cpu")
        >>> d, str(d), cr.zeros(2).to(d).device == d
        (device(type='cpu'), 'cpu', True)
        >>> cr.device("cuda")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        RuntimeError: device: 'cuda' is not available: chainrule computes with NumPy on the CPU, ...
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a name such as 'cpu', got {type!r}")
        name, sep, number = type.strip().partition(":")
        if sep:
            if index is not None:
                raise ValueError(f"device: {type!r} already has an index; do not pass index= too")
            if not number.isdigit():
                raise ValueError(f"device: {type!r} is not a device name (expected 'cpu' or 'cpu:0')")
            index = int(number)
        if name != "cpu":
            raise RuntimeError(
                f"device: {type!r} is not available: chainrule computes with NumPy on the CPU, and its only "
                'device is \'cpu\' (write device = cr.device("cuda" if cr.cuda.is_available() else "cpu") for '
                "code that runs on both)"
            )
        if index not in (None, 0):
            raise RuntimeError(f"device: cpu:{index} is not available; the CPU is device cpu (or cpu:0)")
        self.type = name
        self.index = index

    def __repr__(self) -> str:
        return (
            f"device(type={self.type!r})" if self.index is None else f"device(type={self.type!r}, index={self.index})"
        )

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, ValueError):
                return False
        return isinstance(other, device) and other.type == self.type

    def __hash__(self) -> int:
        return hash(self.type)


CPU = device("cpu")


def as_device(value: Any, op: str) -> device:
    """``value`` (a name, a device, or an index as PyTorch allows for CUDA) as a device, or a clear error."""
    if isinstance(value, device):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise RuntimeError(f"{op}: device {value} would be a CUDA device; chainrule's only device is 'cpu'")
    try:
        return device(value)
    except RuntimeError as error:
        raise RuntimeError(f"{op}: {error}") from None


def _no_cuda(*args: Any, **kwargs: Any) -> None:
    """Seeding CUDA does nothing when there is none (as in PyTorch)."""


cuda = types.SimpleNamespace(
    is_available=lambda: False,
    device_count=lambda: 0,
    manual_seed=_no_cuda,
    manual_seed_all=_no_cuda,
)
cuda.__doc__ = "No CUDA here: ``cr.cuda.is_available()`` is False and ``device_count()`` is 0."

backends = types.SimpleNamespace(
    mps=types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False),
    cuda=types.SimpleNamespace(is_built=lambda: False),
    cudnn=types.SimpleNamespace(enabled=False, deterministic=False, benchmark=False, is_available=lambda: False),
)
backends.__doc__ = "What PyTorch code asks of its backends: no MPS, no CUDA, no cuDNN; setting their flags is harmless."
