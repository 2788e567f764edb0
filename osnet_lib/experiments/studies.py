"""The book's studies and the paper's claims they judge: each defined here, in a few lines.

=============  ===================  =========================================================
study          paper                what
=============  ===================  =========================================================
``ain``        Sec. 3.3, 4.2,       the IN search on ``msmt`` (four seeds, selected on
               Table 7              ``cuhk03``), then OSNet, OSNet-IBN, the searched and the
                                    released OSNet-AIN genotypes trained on ``msmt`` and tested
                                    on ``market`` and ``duke``
``table5``     Table 5              the eleven ablations of omni-scale residual learning,
                                    trained from scratch on ``cuhk03`` of the ``omni`` world
``table5-      Table 5, models      T = 4 against T = 1 and against concatenation on the
control``,     1, 9, 4              ``control`` world (one global cue decides identity) and
``table5-                           on the ``default`` world of part I
default``
``table5-      Table 5, models      T = 4 against T = 1 on the ``omni`` world with half the
short``        1 and 9              profile's epochs: does the effect need the whole schedule?
``table5-      Table 5, models      the same at width x0.5 (beta = 0.5): does more capacity
wide``         1 and 9              show a larger advantage?
``table3``     Table 3, trained     OSNet against torchvision's MobileNetV2 (as many
               from scratch         parameters), ShuffleNetV2 and ResNet-18 with OSNet's head,
                                    from scratch on ``cuhk03`` of the ``omni`` world
``table6``     Table 6 (Sec. 3.4)   the sixteen (beta, gamma) rows of Table 6 on ``cuhk03``
                                    of the ``omni`` world; the four corners over three
                                    seeds, the other rows over one
``calibrate-   the world's          OSNet (T = 4) trained on ``market`` of the ``omni`` or
omni``,        calibration          ``control`` world and tested there and on ``duke``: is
``calibrate-   (DESIGN, "The        its accuracy far from 0 and 100, is there a cross-domain
control``      synthetic world      drop? Only the primary model, so that no T = 4 against
               is an instrument")   T = 1 result exists before the worlds are fixed.
=============  ===================  =========================================================

Domains are the synthetic world's under ``quick`` and ``cpu`` and the datasets they stand for
under ``paper`` (:data:`~osnet_lib.experiments.study.REAL_DATASETS`). The scale of every
``cpu`` study (world, epochs, seeds) is the profile table's
(:data:`osnet_lib.recipes.PROFILE_TABLE`).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from types import MappingProxyType

from osnet_lib.experiments.claims import Claim
from osnet_lib.experiments.study import MATCHED, Arm, Study
from osnet_lib.paper import TABLE3_SCRATCH, TABLE5, TABLE6


def _table5_arms() -> tuple[Arm, ...]:
    """Model k of Table 5 is the arm ``model<k>`` with that row's block options."""
    return tuple(Arm(f"model{k}", options=dict(row[-1]), label=f"{k}: {row[0]}")  # type: ignore[call-overload]
                 for k, row in TABLE5.items())


def table6_arm_name(beta: float, gamma: float) -> str:
    """The arm of Table 6's row (beta, gamma): ``"b0.75-g0.5"``."""
    return f"b{beta:g}-g{gamma:g}"


#: Table 6's corners: the rows trained over every seed of the study (the others over one).
TABLE6_CORNERS = ((1.0, 1.0), (1.0, 0.25), (0.25, 1.0), (0.25, 0.25))


def _table6_arms() -> tuple[Arm, ...]:
    """One arm per row of Table 6, in the paper's order; the corners keep the study's seeds,
    the other twelve rows run seed 0 only (the budget: recipes, "The scale of part II")."""
    return tuple(Arm(table6_arm_name(beta, gamma), beta=beta, gamma=gamma,
                     seeds=None if (beta, gamma) in TABLE6_CORNERS else (0,),
                     label=f"β = {beta:g}, γ = {gamma:g}")
                 for beta, _params, gamma, *_ in TABLE6)


_STUDIES = (
    Study(
        name="ain", reproduces="Table 7 (Sec. 3.3, 4.2)", recipe="cross_domain",
        source="msmt", targets=("market", "duke"), seeds=(0, 1, 2),
        description="Where instance normalisation goes: the search of Sec. 3.3 on msmt (four "
                    "seeds, the best on cuhk03 kept), then OSNet, OSNet-IBN, the searched and "
                    "the released OSNet-AIN genotypes trained on msmt and tested on market and "
                    "duke, which the selection never saw.",
        arms=(
            Arm("search", kind="search", recipe_name="search", seeds=(0, 1, 2, 3),
                targets=("cuhk03", "market", "duke"), select_on="cuhk03",
                label="search (supernet, argmax)"),
            Arm("osnet", model="osnet", label="OSNet"),
            Arm("osnet_ibn", model="osnet_ibn", label="OSNet-IBN"),
            Arm("searched", model="osnet_ain", genotype_from="search",
                label="searched genotype"),
            Arm("osnet_ain", model="osnet_ain", label="OSNet-AIN (Table 1 genotype)"),
        ),
    ),
    Study(
        name="table5", reproduces="Table 5", recipe="scratch", source="cuhk03",
        seeds=(0, 1, 2), arms=_table5_arms(), world="omni",
        description="The ablations of omni-scale residual learning (Table 5): stream counts "
                    "T = 1..4, fusion by concatenation, addition, separate or stream-wise or "
                    "static gates, full convolutions and streams of equal depth, trained from "
                    "scratch with one recipe on the omni world, where identity lives in "
                    "combinations of cues at several scales.",
    ),
) + tuple(
    Study(
        name=f"table5-{kind}", reproduces="Table 5 (models 1, 9, 4)", recipe="scratch",
        source="cuhk03", seeds=(0, 1, 2), world=kind,
        arms=tuple(a for a in _table5_arms() if a.name in ("model1", "model9", "model4")),
        description=f"Table 5's key comparison (T = 4 against T = 1 and against "
                    f"concatenation) on the {kind} world: {what}",
    )
    for kind, what in (
        ("control", "one global cue decides identity, so the paper's argument predicts a "
                    "smaller T = 4 advantage than on the omni world."),
        ("default", "the world of part I, on which the claim did not show at the first "
                    "cpu scale."),
    )
)

_STUDIES += (
    Study(
        name="table3", reproduces="Table 3 (trained from scratch)", recipe="scratch",
        source="cuhk03", seeds=(0, 1, 2), world="omni",
        arms=(
            Arm("osnet", label="OSNet"),
            Arm("mobilenet_v2", model="mobilenet_v2", options={"width_mult": MATCHED},
                label="MobileNetV2 (OSNet's size)"),
            Arm("shufflenet_v2", model="shufflenet_v2", options={"width_mult": MATCHED},
                label="ShuffleNetV2"),
            Arm("resnet18", model="resnet18", seeds=(0,), label="ResNet-18"),
        ),
        description="OSNet trained from scratch beside torchvision networks with the same "
                    "512-d head and recipe: MobileNetV2 with as many parameters as OSNet (the "
                    "paper's own baseline), ShuffleNetV2 at its closest width and ResNet-18 "
                    "(one seed: 14 times OSNet x0.25's Mult-Adds at 128x64). OSNet's runs are "
                    "table5's model 1, the same computation.",
    ),
    Study(
        name="table6", reproduces="Table 6 (Sec. 3.4)", recipe="scratch", source="cuhk03",
        seeds=(0, 1, 2), arms=_table6_arms(), world="omni",
        description="Shrinking the network: the width multiplier beta (channels of every "
                    "layer but the fc) and the resolution multiplier gamma (the input size) "
                    "of Sec. 3.4, the sixteen rows of Table 6 trained from scratch with one "
                    "recipe on the omni world; gamma scales the profile's input (128x64 under "
                    "cpu, 256x128 under paper).",
    ),
)


def _table5_diagnosis(name: str, what: str, description: str, epoch_scale: float = 1.0,
                      beta: float | None = None) -> Study:
    """Table 5's models 1 (T = 4) and 9 (T = 1) on its world, over three seeds, with one thing
    of the ``cpu`` scale changed: are Table 5's small differences a matter of training or
    capacity, or of the world?"""
    arms = tuple(a if beta is None else dataclasses.replace(a, beta=beta)
                 for a in _table5_arms() if a.name in ("model1", "model9"))
    return Study(name=name, reproduces=f"Table 5 (models 1 and 9), {what}", recipe="scratch",
                 source="cuhk03", seeds=(0, 1, 2), world="omni", epoch_scale=epoch_scale,
                 arms=arms, description=description)


_DIAGNOSES = (
    _table5_diagnosis(
        "table5-short", "half schedule", epoch_scale=0.5,
        description="T = 4 against T = 1 on the omni world with half the profile's epochs: "
                    "does the measured effect need the whole schedule, or would a cheaper "
                    "scale of part II show it as well?"),
    _table5_diagnosis(
        "table5-long", "double schedule", epoch_scale=2.0,
        description="T = 4 against T = 1 on the omni world with twice the profile's epochs "
                    "(60 under cpu): at 30 epochs both networks fit about two thirds of their "
                    "training images (table5); does the advantage of the streams grow when "
                    "they fit more of the world?"),
    _table5_diagnosis(
        "table5-wide", "width x0.5", beta=0.5,
        description="T = 4 against T = 1 on the omni world at twice the profile's width "
                    "(x0.5 under cpu): does a network with more capacity show a larger "
                    "advantage of the omni-scale streams? Model 1's first seed is table6's "
                    "(beta, gamma) = (0.5, 1) row, the same computation."),
)

_CALIBRATIONS = tuple(
    Study(
        name=f"calibrate-{kind}", reproduces="world calibration", recipe="scratch",
        source="market", targets=("market", "duke"), seeds=(0,), world=kind,
        arms=(Arm("osnet", label="OSNet (T = 4)"),),
        description=f"Calibration of the {kind} world: OSNet trained on its market domain, "
                    "tested on market and, across domains, on duke.",
    )
    for kind in ("omni", "control")
)

STUDIES: Mapping[str, Study] = MappingProxyType(
    {s.name: s for s in _STUDIES + _DIAGNOSES + _CALIBRATIONS})


def _t5(k: int) -> float:
    return TABLE5[k][1]  # CUHK03 rank-1, the dataset the table5 study stands in for


def _primary_against(name: str, k: int, statement: str) -> Claim:
    """Table 5's primary model (model 1) against its model ``k``, on CUHK03 rank-1."""
    return Claim(name, "table5", ("model1", f"model{k}"), paper=(_t5(1), _t5(k)),
                 source=f"Table 5, models 1 and {k} (CUHK03 rank-1)", statement=statement)


def _t6(beta: float, gamma: float) -> float:
    return next(r[4] for r in TABLE6 if r[0] == beta and r[2] == gamma)  # Market1501 rank-1


def _table6_order(name: str, rows: list[tuple[float, float]], statement: str) -> Claim:
    return Claim(name, "table6", tuple(table6_arm_name(b, g) for b, g in rows),
                 paper=tuple(_t6(b, g) for b, g in rows),
                 source="Table 6 (Market1501 rank-1; here cuhk03 of the omni world)",
                 statement=statement)


_CLAIMS = (
    Claim("table5-omni-vs-single", "table5", ("model1", "model9"),
          paper=(_t5(1), _t5(9)), source="Table 5, models 1 and 9 (CUHK03 rank-1)",
          statement="Omni-scale streams (T = 4) beat a single scale (T = 1)."),
    Claim("table5-more-streams", "table5", ("model1", "model11", "model10", "model9"),
          paper=(_t5(1), _t5(11), _t5(10), _t5(9)),
          source="Table 5, models 1, 11, 10, 9 (CUHK03 rank-1)",
          statement="Each added stream helps: T = 4 > 3 > 2 > 1."),
    _primary_against("table5-gate-vs-concat", 4,
                     "The unified aggregation gate beats concatenating the streams."),
    _primary_against("table5-gate-vs-addition", 5,
                     "The unified aggregation gate beats adding the streams."),
    _primary_against("table5-unified-vs-separate", 6,
                     "One gate shared by the streams beats a gate per stream."),
    _primary_against("table5-channel-vs-stream", 7,
                     "Channel-wise gates beat one weight per stream."),
    _primary_against("table5-dynamic-vs-static", 8,
                     "Input-dependent gates beat learned-and-fixed ones."),
    Claim("omni-world-needs-omni-scale", "table5", ("model1", "model9"),
          relative_to="table5-control",
          source="the argument of Sec. 1 and Fig. 1 (no number in the paper)",
          statement="The T = 4 advantage over T = 1 is larger on the omni world, where identity "
                    "lives in combinations of cues at several scales, than on the control "
                    "world, where one global cue decides it."),
    Claim("omni-world-needs-fusion", "table5", ("model1", "model4"),
          relative_to="table5-control",
          source="the argument of Sec. 3.2 (no number in the paper)",
          statement="The unified gate's advantage over concatenation is larger on the omni "
                    "world than on the control world."),
    Claim("table3-osnet-vs-mobilenet", "table3", ("osnet", "mobilenet_v2"),
          paper=(TABLE3_SCRATCH["OSNet"][2]["CUHK03"][0],
                 TABLE3_SCRATCH["MobileNetV2"][2]["CUHK03"][0]),
          source="Table 3, trained from scratch (CUHK03 rank-1)",
          statement="OSNet beats MobileNetV2 of the same size, both trained from scratch."),
    # "smoothly" (Sec. 3.4), fixed before any table6 run: accuracy is ordered along each
    # multiplier, every adjacent pair judged by the one rule (an ordering is reproduced when
    # every pair is, contradicted when any pair is).
    _table6_order("table6-width-order", [(b, 1.0) for b in (1.0, 0.75, 0.5, 0.25)],
                  "At full resolution, accuracy falls step by step as the width multiplier "
                  "beta shrinks from 1 to 0.25."),
    _table6_order("table6-resolution-order", [(1.0, g) for g in (1.0, 0.75, 0.5, 0.25)],
                  "At full width, accuracy falls step by step as the resolution multiplier "
                  "gamma shrinks from 1 to 0.25."),
    Claim("ain-ranking-duke", "ain", ("searched", "osnet_ibn", "osnet"), target="duke",
          source="Table 7 ranking (there Market1501 <-> Duke; here msmt -> duke)",
          statement="OSNet-AIN generalises better than OSNet-IBN, which beats OSNet."),
    Claim("ain-ranking-market", "ain", ("searched", "osnet_ibn", "osnet"), target="market",
          source="Table 7 ranking (there Market1501 <-> Duke; here msmt -> market)",
          statement="OSNet-AIN generalises better than OSNet-IBN, which beats OSNet."),
)

CLAIMS: Mapping[str, Claim] = MappingProxyType({c.name: c for c in _CLAIMS})


def _lookup(kind: str, name: str, table: Mapping[str, object]) -> object:
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown {kind} {name!r}{hint} (known: {', '.join(table)})")


def list_studies() -> list[str]:
    """The names of the book's studies."""
    return list(STUDIES)


def get_study(name: str) -> Study:
    """The study called ``name`` (ValueError with close matches otherwise)."""
    return _lookup("study", name, STUDIES)  # type: ignore[return-value]


def get_claim(name: str) -> Claim:
    """The claim called ``name`` (ValueError with close matches otherwise)."""
    return _lookup("claim", name, CLAIMS)  # type: ignore[return-value]


def claims_of(study: str) -> list[Claim]:
    """The claims that ``study``'s runs judge."""
    get_study(study)
    return [c for c in CLAIMS.values() if c.study == study]


def _check_claims() -> None:
    for c in CLAIMS.values():
        study = get_study(c.study)
        for arm in c.order:
            study.arm(arm)
        if c.target is not None and c.target not in study.targets:
            raise ValueError(f"claim {c.name!r}: target {c.target!r} is not one of study "
                             f"{study.name!r}'s targets {study.targets}")
        if c.relative_to is not None:
            other = get_study(c.relative_to)
            for arm in c.order:
                other.arm(arm)
            if (c.target or study.targets[0]) not in other.targets:
                raise ValueError(f"claim {c.name!r}: study {other.name!r} is not tested on "
                                 f"{c.target or study.targets[0]!r}")


_check_claims()

__all__ = ["CLAIMS", "STUDIES", "TABLE6_CORNERS", "claims_of", "get_claim", "get_study",
           "list_studies", "table6_arm_name"]
