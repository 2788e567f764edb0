"""Load the OSNet weights published by the paper's authors (the torchreid model zoo).

The authors' files use their own module names, which differ from ours in three places: the
streams (``conv2a``..``conv2d`` in ``osnet.py``, ``conv2.{t}.layers`` in ``osnet_ain.py``; ours are
``streams.{t}``), the transitions (``conv2.2``/``pool2``; ours ``transition2``) and the norm
layers (``bn``/``IN``; ours ``norm``, ``in_inner``, ``in_outer``). :func:`authors_key_to_ours` is
the explicit, tested mapping. Loading is strict: every key of the model must be filled by the
file, and every key of the file must be used, except the identity classifier, whose size depends
on the training set. Files are read with ``torch.load(weights_only=True)``, which never unpickles
arbitrary objects (only plain NumPy scalars and arrays are added to what it rebuilds, for
torchreid's checkpoints, :func:`plain_numpy_types`); a training checkpoint of this library is
read too, and weights with NaN or inf values are refused by name. Building a model never
downloads anything: download the files yourself.
Taught in chapter 5.
"""

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

_STREAM_LETTERS = {"a": 0, "b": 1, "c": 2, "d": 3}
_CLASSIFIER = "classifier."


class WeightMismatchError(ValueError):
    """A weight file does not fit the model; the message lists every offending key."""


@dataclass
class LoadReport:
    """What :func:`load_pretrained` did."""

    path: str
    scheme: str  # "osnet" (osnet.py, osnet_ibn) or "osnet_ain" (osnet_ain.py) or "osnet_lib"
    loaded: int = 0
    skipped_classifier: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        extra = (f"; classifier not loaded ({', '.join(self.skipped_classifier)})"
                 if self.skipped_classifier else "")
        return f"loaded {self.loaded} tensors from {self.path} ({self.scheme} names){extra}"


def _detect_scheme(keys: list[str]) -> str:
    if any(k.startswith(("pool2.", "pool3.")) for k in keys):
        return "osnet_ain"
    if any(".conv2a." in k for k in keys) or any(k.startswith("conv2.2.") for k in keys):
        return "osnet"
    return "osnet_lib"


def authors_key_to_ours(key: str, scheme: str) -> str:
    """Map one state-dict key of the authors' files to this library's name.

    ``scheme`` is ``"osnet"`` for their ``osnet.py`` family (OSNet, OSNet-IBN; IN after the
    residual addition) or ``"osnet_ain"`` for ``osnet_ain.py`` (IN inside the residual), or
    ``"osnet_lib"`` for our own files (returned unchanged).
    """
    if scheme == "osnet_lib":
        return key
    if scheme not in ("osnet", "osnet_ain"):
        raise ValueError(f"unknown key scheme {scheme!r}")
    # transitions: conv2.2.0 / conv3.2.0 (osnet.py) or pool2.0 / pool3.0 (osnet_ain.py)
    key = re.sub(r"^conv([23])\.2\.0\.", r"transition\1.conv.", key) if scheme == "osnet" else key
    key = re.sub(r"^pool([23])\.0\.", r"transition\1.conv.", key)
    # streams of a block
    key = re.sub(r"^(conv[234]\.\d+)\.conv2([abcd])\.(conv1|conv2|bn)\.",
                 lambda m: f"{m[1]}.streams.{_STREAM_LETTERS[m[2]]}.0.{m[3]}.", key)
    key = re.sub(r"^(conv[234]\.\d+)\.conv2([bcd])\.(\d+)\.",
                 lambda m: f"{m[1]}.streams.{_STREAM_LETTERS[m[2]]}.{m[3]}.", key)
    key = re.sub(r"^(conv[234]\.\d+)\.conv2\.(\d+)\.layers\.(\d+)\.", r"\1.streams.\2.\3.", key)
    # inside a Lite 3x3 layer: conv1 = pointwise, conv2 = depthwise, bn = norm
    m = re.match(r"^(conv[234]\.\d+\.streams\.\d+\.\d+)\.(conv1|conv2|bn)\.(.*)$", key)
    if m:
        leaf = {"conv1": "pointwise", "conv2": "depthwise", "bn": "norm"}[m[2]]
        return f"{m[1]}.{leaf}.{m[3]}"
    # the shared gate, the block's IN, and every remaining ConvLayer's bn
    key = re.sub(r"^(conv[234]\.\d+)\.gate\.", r"\1.gates.0.", key)
    in_name = "in_outer" if scheme == "osnet" else "in_inner"
    key = re.sub(r"^(conv[234]\.\d+)\.IN\.", rf"\1.{in_name}.", key)
    key = re.sub(r"\.bn\.", ".norm.", key)
    return key


def plain_numpy_types() -> list[Any]:
    """The NumPy types a ``weights_only`` load may rebuild in a weight file: scalars (a
    torchreid checkpoint stores ``rank1`` as ``numpy.float64``), plain arrays and their dtypes.
    All of them are data: rebuilding them runs no code of the file's choosing, and an array of
    Python objects still needs globals outside this list, so it is still refused."""
    import numpy as np

    core = np._core if hasattr(np, "_core") else np.core
    types: list[Any] = [core.multiarray.scalar, core.multiarray._reconstruct, np.ndarray,
                        np.dtype]
    types += [getattr(np.dtypes, name) for name in dir(np.dtypes)
              if name.endswith("DType") and name != "ObjectDType"]
    return types


def _weights_only_load(path: Path) -> Any:
    with torch.serialization.safe_globals(plain_numpy_types()):
        return torch.load(path, map_location="cpu", weights_only=True)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a weight file safely and return its state dict (keys without the ``module.``
    prefix that DataParallel adds).

    Accepted: a plain state dict; a training checkpoint of this library (``checkpoint.pth``,
    whose ``model`` entry is the state dict), so an interrupted run can be evaluated; a
    checkpoint holding ``state_dict`` beside metadata (torchreid's, with ``epoch``, ``rank1``
    and the optimizer). Files are read with ``torch.load(weights_only=True)``, which never
    unpickles arbitrary objects, widened only by :func:`plain_numpy_types`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a safe PyTorch file, holds no state dict of tensors, or has
            non-finite values (NaN or inf) in a tensor; the message names the file and the keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    try:
        obj = _weights_only_load(path)
    except Exception as e:  # noqa: BLE001 - any failure here means "not a safe weight file"
        raise ValueError(
            f"{path} could not be read as a PyTorch weight file with weights_only=True "
            f"(corrupt, not a torch file, or it contains arbitrary Python objects): "
            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):  # torchreid's checkpoints; this library's
            if isinstance(obj.get(key), Mapping) and obj[key] and all(
                    isinstance(v, torch.Tensor) for v in obj[key].values()):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj or not all(
            isinstance(v, torch.Tensor) for v in obj.values()):
        found = (f"a mapping with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, Mapping)
                 else f"a {type(obj).__name__}")
        raise ValueError(f"{path} does not hold a state dict of tensors (found {found}); give "
                         "a model.pth or checkpoint.pth of this library, or a state dict")
    bad = [k for k, v in obj.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"{path} holds non-finite values (NaN or inf) in {len(bad)} tensor(s): "
                         f"{', '.join(bad[:6])}{' ...' if len(bad) > 6 else ''}; the weights are "
                         "broken (a diverged run?): use an earlier checkpoint")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def load_pretrained(
    model: nn.Module, path: str | Path, load_classifier: bool | None = None
) -> LoadReport:
    """Load a weight file (the authors' or ours) into ``model`` strictly.

    Args:
        model: an :class:`~osnet_lib.models.OSNet` of the matching architecture.
        path: the file, e.g. ``osnet_x1_0_imagenet.pth`` from the authors' model zoo.
        load_classifier: ``None`` loads the classifier only when its shape matches; ``False``
            never loads it; ``True`` requires it to load.

    Raises:
        WeightMismatchError: listing missing keys, unexpected keys and shape mismatches.
    """
    raw = read_state_dict(path)
    scheme = _detect_scheme(list(raw))
    mapped = {authors_key_to_ours(k, scheme): v for k, v in raw.items()}
    target = model.state_dict()
    report = LoadReport(str(path), scheme)

    classifier_ok = all(
        k in target and target[k].shape == v.shape
        for k, v in mapped.items() if k.startswith(_CLASSIFIER)
    ) and any(k.startswith(_CLASSIFIER) for k in mapped)
    use_classifier = classifier_ok if load_classifier is None else load_classifier
    if load_classifier and not classifier_ok:
        raise WeightMismatchError(
            f"{path}: the classifier cannot be loaded (missing or of another size)"
        )

    problems: list[str] = []
    missing = [k for k in target if k not in mapped and not k.endswith("num_batches_tracked")
               and not (k.startswith(_CLASSIFIER) and not use_classifier)]
    unexpected = [k for k in mapped if k not in target and not k.startswith(_CLASSIFIER)]
    mis_shaped = [
        f"{k}: file {tuple(v.shape)} vs model {tuple(target[k].shape)}"
        for k, v in mapped.items()
        if k in target and target[k].shape != v.shape and not k.startswith(_CLASSIFIER)
    ]
    if missing:
        problems.append(f"missing in the file ({len(missing)}): {', '.join(missing[:12])}"
                        + (" ..." if len(missing) > 12 else ""))
    if unexpected:
        problems.append(f"not in the model ({len(unexpected)}): {', '.join(unexpected[:12])}"
                        + (" ..." if len(unexpected) > 12 else ""))
    if mis_shaped:
        problems.append(f"shape mismatch ({len(mis_shaped)}): {'; '.join(mis_shaped[:12])}"
                        + (" ..." if len(mis_shaped) > 12 else ""))
    if problems:
        raise WeightMismatchError(
            f"{path} ({scheme} key names) does not match the model:\n  " + "\n  ".join(problems)
        )

    state = {k: v for k, v in mapped.items()
             if k in target and (use_classifier or not k.startswith(_CLASSIFIER))}
    report.skipped_classifier = sorted(k for k in mapped if k.startswith(_CLASSIFIER)
                                       and k not in state)
    model.load_state_dict(state, strict=False)
    report.loaded = len(state)
    log.info("%s", report)
    return report


def save_weights(model: nn.Module, path: str | Path) -> None:
    """Save ``model``'s state dict (our key names) so :func:`load_pretrained` can read it,
    atomically (:func:`osnet_lib.provenance.atomic_write`: a unique temporary file renamed
    over ``path``, so a reader never sees half a file and two writers never share one)."""
    from osnet_lib.provenance import atomic_write

    state = model.state_dict()
    atomic_write(path, lambda f: torch.save(state, f))
