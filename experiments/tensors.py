"""A data set's arrays as tensors on one device, built once per data set, device and process."""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass

import torch

from experiments.series import StreamDataset
from experiments.splits import SPLIT_ARRAYS, STATIC_ARRAYS, Dataset


@dataclass(frozen=True)
class DatasetTensors:
    """A :class:`Dataset`'s splits as tensors on one device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    static_train: torch.Tensor | None = None
    static_val: torch.Tensor | None = None
    static_test: torch.Tensor | None = None


@dataclass(frozen=True)
class KeepTensors:
    """A :class:`StreamDataset`'s reset masks (0 where a window starts a series) on one device."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


_TENSORS: weakref.WeakKeyDictionary[Dataset, dict[tuple[type, torch.device], object]] = weakref.WeakKeyDictionary()


def dataset_tensors(data: Dataset, device: torch.device) -> DatasetTensors:
    """``data`` as tensors on ``device``, built once per data set, device and process.

    On CPU the tensors share the (read-only) arrays' memory; nothing here writes to them.
    """
    return _on_device(data, device, DatasetTensors, SPLIT_ARRAYS + (STATIC_ARRAYS if data.static_features else ()))


def keep_tensors(data: StreamDataset, device: torch.device) -> KeepTensors:
    """``data``'s reset masks on ``device``, built once per data set, device and process."""
    return _on_device(data, device, KeepTensors, ("keep_train", "keep_val", "keep_test"))


def _on_device(data: Dataset, device: torch.device, kind: type, names: tuple[str, ...]):
    per_device = _TENSORS.setdefault(data, {})
    if (kind, device) not in per_device:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            per_device[kind, device] = kind(*(torch.from_numpy(getattr(data, name)).to(device) for name in names))
    return per_device[kind, device]
