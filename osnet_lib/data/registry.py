"""The dataset registry: one loader per name, built with :func:`build_dataset`.

A loader is a function ``loader(root, *, option=default, ...) -> ReIDDataset``; its
keyword-only parameters are the dataset's options. Loaders register themselves where they are
defined with :func:`register_dataset` (a duplicate name raises).
"""

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .records import ReIDDataset

__all__ = ["build_dataset", "dataset_options", "list_datasets", "register_dataset"]

Loader = Callable[..., ReIDDataset]
_F = TypeVar("_F", bound=Loader)
_REGISTRY: dict[str, Loader] = {}


def register_dataset(name: str) -> Callable[[_F], _F]:
    """Decorator that registers a loader under ``name``.

    Raises:
        ValueError: if ``name`` is already registered.
    """

    def wrap(fn: _F) -> _F:
        if name in _REGISTRY:
            raise ValueError(f"dataset name '{name}' is already registered")
        _REGISTRY[name] = fn
        return fn

    return wrap


def list_datasets() -> list[str]:
    """Names accepted by :func:`build_dataset`, sorted."""
    return sorted(_REGISTRY)


def _loader(name: str) -> Loader:
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    key = name.lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown dataset '{name}'; valid names: {', '.join(list_datasets())}")
    return _REGISTRY[key]


def dataset_options(name: str) -> dict[str, Any]:
    """The options of dataset ``name`` with their default values."""
    sig = inspect.signature(_loader(name))
    return {
        p.name: p.default
        for p in sig.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def build_dataset(name: str, root: str | Path, **options: Any) -> ReIDDataset:
    """Load the dataset registered as ``name`` from ``root``.

    Args:
        name: one of :func:`list_datasets` (case-insensitive).
        root: the data root. For the public datasets it may be the folder that holds the
            dataset's own folder (``<root>/market1501/...``), that folder itself, or the folder
            the release archive unpacks to; see each loader.
        **options: the dataset's options, see :func:`dataset_options`.

    Raises:
        ValueError: unknown ``name`` (the message lists the valid names).
        TypeError: an option the dataset does not have (the message lists its options).
    """
    loader = _loader(name)
    valid = dataset_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(
            f"unknown option(s) {', '.join(repr(u) for u in unknown)} for dataset '{name}'; "
            f"valid options: {', '.join(valid) if valid else '(none)'}"
        )
    return loader(root, **options)
