"""Small helpers shared by the whole library: argument validators and :func:`eval_mode`.

Every public function that takes a user's value checks it with one of these validators, so that
the same mistake gives the same message everywhere: a ``TypeError`` for a value of the wrong
type, a ``ValueError`` for a value out of range, each naming the argument and the value.
"""

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "ArgumentTypeError", "check_choice", "check_finite", "check_int", "check_positive_int",
    "eval_mode",
]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type. Both a ``TypeError`` (what it is) and a ``ValueError``
    (what a caller that validates user input catches), so either ``except`` clause sees it."""


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (either bound may be None).

    Raises:
        ArgumentTypeError: not an integer (bools, floats and strings are refused).
        ValueError: out of range; the message names ``name``, the value and the range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(
            f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None and low in (0, 1):
            rule = "a positive integer" if low == 1 else "a non-negative integer"
        elif high is None:
            rule = f"at least {low}"
        elif low is None:
            rule = f"at most {high}"
        else:
            rule = f"between {low} and {high}"
        raise ValueError(f"{name} must be {rule}, got {value}")
    return value


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` >= 1 (:func:`check_int`)."""
    return check_int(name, value, low=1)


def check_finite(name: str, value: Any, low: float | None = None, high: float | None = None,
                 low_open: bool = False) -> float:
    """``value`` as a finite ``float`` in ``[low, high]`` (``(low, high]`` with ``low_open``).

    NaN and infinities are refused: a learning rate of ``inf`` or a weight decay of ``nan``
    would train a whole epoch to NaN before anything noticed.

    Raises:
        ArgumentTypeError: not a real number.
        ValueError: NaN, infinite, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(
            f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    below = low is not None and (value <= low if low_open else value < low)
    if below or (high is not None and value > high):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        bracket = "(" if low_open or low is None else "["
        raise ValueError(f"{name} must be in {bracket}{lo}, {hi}], got {value:g}")
    return value


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``.

    Raises:
        ValueError: it is not; the message lists the choices.
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


@contextlib.contextmanager
def eval_mode(module: nn.Module, no_grad: bool = True) -> Iterator[nn.Module]:
    """Run ``module`` in evaluation mode (and without autograd when ``no_grad``), then restore
    the mode of every submodule as it was.

    Evaluation mode makes BatchNorm use its running statistics instead of the batch's, so an
    image's output does not depend on the other images of the batch and no running statistic
    is updated. The previous mode is restored per submodule, so a model whose trunk was frozen
    in eval mode under a training classifier (fine-tuning's first epochs) comes back the same.
    A module already entirely in eval mode is not touched.
    """
    flags = [(m, m.training) for m in module.modules()]
    changed = any(training for _, training in flags)
    if changed:
        module.eval()
    try:
        with torch.no_grad() if no_grad else contextlib.nullcontext():
            yield module
    finally:
        if changed:
            for m, training in flags:
                m.training = training
