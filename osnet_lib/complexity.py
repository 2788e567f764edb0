"""Model complexity: parameters and Mult-Adds (Table 1, Table 6, Sec. 3.4).

Mult-Adds are counted with :class:`torch.utils.flop_counter.FlopCounterMode` over convolutions
and linear layers, divided by 2 (one multiply-add = 2 FLOPs); normalisation, activation and
pooling layers are not counted, which is the paper's convention and reproduces its figures to
0.1M. Parameters exclude the identity classifier, whose size depends on the training set.
Taught in chapters 2 and 5.
"""

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from osnet_lib.utils import check_int, check_positive_int, eval_mode


def count_params(model: nn.Module, include_classifier: bool = False) -> int:
    """Number of learnable parameters, without ``model.classifier`` unless asked."""
    skip = set()
    classifier = getattr(model, "classifier", None)
    if not include_classifier and isinstance(classifier, nn.Module):
        skip = {id(p) for p in classifier.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def count_mult_adds(
    model: nn.Module, input_size: Sequence[int] = (256, 128), forward: str = "embed"
) -> int:
    """Multiply-accumulate operations of one image of ``input_size`` (height, width).

    ``forward`` names the method to count (``"embed"`` for the network up to the fc embedding,
    as the paper counts it; the classifier is excluded). The model is counted in eval mode and
    restored to its previous mode.
    """
    if len(input_size) != 2 or min(input_size) < 1:
        raise ValueError(f"input_size must be (height, width), got {tuple(input_size)}")
    fn = getattr(model, forward, None)
    if not callable(fn):
        raise ValueError(f"the model has no method {forward!r} to count")
    device = next(model.parameters()).device
    x = torch.zeros(1, 3, *input_size, device=device)
    counter = FlopCounterMode(display=False)
    with eval_mode(model), counter:
        fn(x)
    return counter.get_total_flops() // 2


@dataclass(frozen=True)
class Complexity:
    params: int
    mult_adds: int

    def __str__(self) -> str:
        return f"{self.params / 1e6:.1f}M params, {self.mult_adds / 1e6:.1f}M Mult-Adds"


def complexity(model: nn.Module, input_size: Sequence[int] = (256, 128)) -> Complexity:
    """Parameters (without classifier) and Mult-Adds of ``model`` at ``input_size``."""
    return Complexity(count_params(model), count_mult_adds(model, input_size))


def table6(models: dict[float, nn.Module] | None = None) -> list[dict[str, Any]]:
    """Table 6 as this library measures it, next to the paper's figures.

    Returns one dict per row with ``beta``, ``gamma``, ``input_size``, the measured ``params_m``
    and ``mult_adds_m`` (millions, unrounded), and the paper's ``paper_params_m`` and
    ``paper_mult_adds_m``.
    """
    from osnet_lib.models import build_model, model_name
    from osnet_lib.paper import GAMMA_INPUT_SIZE, TABLE6

    models = models or {beta: build_model(model_name("osnet", beta))
                        for beta in dict.fromkeys(row[0] for row in TABLE6)}
    rows: list[dict[str, Any]] = []
    for beta, params_m, gamma, mult_adds_m, *_ in TABLE6:
        size = GAMMA_INPUT_SIZE[gamma]
        c = complexity(models[beta], size)
        rows.append({"beta": beta, "gamma": gamma, "input_size": size,
                     "params_m": c.params / 1e6, "mult_adds_m": c.mult_adds / 1e6,
                     "paper_params_m": params_m, "paper_mult_adds_m": mult_adds_m})
    return rows


def latency(model: nn.Module, input_size: Sequence[int] = (256, 128), batch_size: int = 1,
            repeats: int = 20, warmup: int = 3) -> float:
    """Median wall time of one ``model.embed`` call on a random batch, in milliseconds per image.

    Measured on the model's device in eval mode without autograd, ``warmup`` calls first, with
    the threads torch uses now (``torch.get_num_threads()``; set it to compare machines). A
    measurement, not a constant: it depends on the CPU and its load, so the book reports it
    next to the Mult-Adds, which do not.

    Raises:
        ValueError: a bad ``input_size``, ``batch_size``, ``repeats`` or ``warmup``.
    """
    if len(input_size) != 2 or min(input_size) < 1:
        raise ValueError(f"input_size must be (height, width), got {tuple(input_size)}")
    check_positive_int("batch_size", batch_size)
    check_positive_int("repeats", repeats)
    check_int("warmup", warmup, low=0)
    embed = getattr(model, "embed", None)
    if not callable(embed):
        raise ValueError("the model has no embed method to time")
    device = next(model.parameters()).device
    x = torch.randn(batch_size, 3, *input_size, device=device)
    times = []
    with eval_mode(model), torch.no_grad():
        for i in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            embed(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3 / batch_size
