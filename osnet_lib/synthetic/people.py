"""People of the synthetic world: identities as combinations of cues, and how to draw them.

An identity (:class:`PersonSpec`) combines *global* cues (body build, skin, hair, upper and lower
garment colours, garment pattern and type, sleeves, bag) with *local* cues (a chest logo of some
shape and colour, shoe colour, glasses, a hat, the period of a striped pattern). Identities come
in confuser families as in the paper's Fig. 1: members of a family share every global cue and
differ in exactly one local cue, so that telling them apart needs the small-scale cue *together
with* the large-scale context it sits on (Sec. 1: "the unique combination, captured by
heterogeneous features spanning both small (logo size) and medium (upper body size) scales").
Local cues are drawn from small, skewed vocabularies, so the same logo appears on many different
garments: a logo alone does not identify anyone either.

That is the ``default`` kind of world. Two other kinds (:data:`WORLD_KINDS`), designed from the
same sentence of Sec. 1 before any network was trained on them (``book/worlds.md``), vary who the
people are and nothing else:

- ``omni``: identity lives *only* in combinations of cues at several scales. Families of four
  share every colour (garments, logo print, shoes, hat, bag, skin, hair) and every global cue;
  members differ by a code (:data:`OMNI_CODE`) over a medium-scale cue (the period of the
  garment's stripes or checks, seen from every view), a small cue seen from the front only (the
  chest logo's shape) and a small cue seen from behind only (a back print's shape). Each value
  is worn by two members, so no single cue tells a member apart; any two do. The vocabularies
  (:data:`OMNI_SHAPES`, :data:`OMNI_PERIODS`) are shared by all families, so a small cue or a
  period alone identifies nobody, and the shapes cover nearly equal areas, so a colour
  statistic cannot tell members apart.
- ``control``: one global cue decides identity: a combination of :data:`CONTROL_CUE` (plain upper
  garment colour, lower garment colour and type, sleeves) unique to each identity, with no
  logo, print, hat, glasses or bag.

Drawing is vectorised with numpy on a :class:`Canvas` that keeps an RGB image and the part label
of every pixel (the ground-truth mask, see :data:`PART_LABELS`). Each body part is one primitive
(a tapered, possibly slanted quadrilateral or an ellipse) evaluated only inside its bounding box
and painted with its colour times a cylindrical shading.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .domains import (
    COLOURS,
    HAIR_COLOURS,
    LOGO_SHAPES,
    SKIN_TONES,
    VIEWS,
    DomainSpec,
    get_domain,
)

#: Label of each part in the ground-truth masks (one uint8 per pixel).
PART_LABELS: dict[str, int] = {
    "background": 0,
    "head": 1,
    "hair": 2,
    "torso": 3,
    "arms": 4,
    "logo": 5,
    "legs": 6,
    "shoes": 7,
    "bag": 8,
    "hat": 9,
    "glasses": 10,
    "occluder": 11,
}
PART_NAMES: tuple[str, ...] = tuple(PART_LABELS)

#: Cues that a confuser family varies (one per member), and those its members share.
LOCAL_CUES: tuple[str, ...] = ("logo", "shoes", "glasses", "hat", "stripe_period")
GLOBAL_CUES: tuple[str, ...] = (
    "height", "build", "skin", "hair_colour", "hair_style", "upper_colour", "upper_pattern",
    "upper_colour2", "sleeves", "lower_colour", "lower_type", "bag", "bag_colour",
)

_SHOE_COLOURS = {
    "black": 6, "white": 5, "dark grey": 2, "brown": 2, "red": 1, "blue": 1, "grey": 1,
    "beige": 1, "orange": 0.5, "green": 0.5,
}
_LOGO_COLOURS = {
    "white": 3, "black": 3, "red": 2, "yellow": 2, "blue": 1.5, "green": 1, "orange": 1,
    "pink": 1, "light blue": 1, "purple": 0.5,
}
_HAT_COLOURS = {"black": 3, "navy": 2, "white": 2, "red": 1, "beige": 1, "grey": 1, "blue": 1}
_ANY_COLOUR = {c: 1.0 for c in COLOURS}
_HAIR_PRIOR = {"black": 5, "dark brown": 3, "brown": 2, "blond": 1, "grey": 0.6}
_GLASSES_RGB = (22, 22, 26)
# Body width relative to height (shoulders about 0.3 x height, as pedestrians in detector boxes).
_WIDTH = 1.35
# Stripe and check periods as fractions of body height (about 3, 5 and 9 pixels at 128x64).
_PERIODS = (0.028, 0.046, 0.08)


@dataclass(frozen=True)
class PersonSpec:
    """One identity: the cues that stay fixed across all of its images.

    ``height`` and ``build`` scale the body; colours are names from
    :data:`~osnet_lib.synthetic.domains.COLOURS` (garments, logo, shoes, hat, bag),
    :data:`~osnet_lib.synthetic.domains.SKIN_TONES` and ``HAIR_COLOURS``. ``stripe_period`` is
    a fraction of body height (0 for plain garments). ``logo_shape`` is ``None`` without a logo;
    the logo sits on the chest and is visible from the front only. ``bag_side`` is +1 or -1.
    ``back_mark`` (``omni`` worlds only, else ``None``) is the shape of a small print in the
    logo's colour high on the back (on the backpack, if any), visible from behind only.
    ``family`` numbers the confuser family; ``varied_cue`` names the local cue in which this
    member differs from the family's first member (``None`` for the first member; in ``omni``
    worlds the cues joined by ``+``, e.g. ``"stripe_period+logo"``).
    """

    key: int
    family: int
    varied_cue: str | None
    height: float
    build: float
    skin: str
    hair_colour: str
    hair_style: str
    upper_colour: str
    upper_pattern: str
    upper_colour2: str
    stripe_period: float
    sleeves: str
    lower_colour: str
    lower_type: str
    shoes: str
    logo_shape: str | None
    logo_colour: str | None
    glasses: bool
    hat: str | None
    bag: str
    bag_colour: str | None
    bag_side: int
    back_mark: str | None = None

    def attributes(self) -> dict:
        """The identity's cues as a JSON-friendly dict (the ``attributes`` of the ground truth).

        ``back_mark`` is listed only when the identity has one (``omni`` worlds), so that the
        default world's ground truth keeps its form.
        """
        d = asdict(self)
        if d["back_mark"] is None:
            d.pop("back_mark")
        return d

    def signature(self) -> tuple:
        """All cues except the bookkeeping fields: two identities must never share one."""
        d = self.attributes()
        for k in ("key", "family", "varied_cue"):
            d.pop(k)
        d["height"] = round(d["height"], 2)
        d["build"] = round(d["build"], 2)
        return tuple(sorted(d.items()))


def _choice(rng: np.random.Generator, prior: Mapping[str, float], exclude: tuple = ()) -> str:
    names = [k for k in prior if k not in exclude]
    p = np.array([prior[k] for k in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _sample_logo(rng: np.random.Generator, upper: str, upper2: str) -> tuple[str, str]:
    # A skewed vocabulary: some logo designs are popular (shared small cues across families).
    shape = LOGO_SHAPES[int(rng.choice(len(LOGO_SHAPES), p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1]))]
    colour = _choice(rng, _LOGO_COLOURS, exclude=(upper, upper2))
    return shape, colour


def _sample_base(domain: DomainSpec, rng: np.random.Generator, key: int, family: int) -> PersonSpec:
    upper = _choice(rng, domain.upper_colours)
    pattern = _choice(rng, domain.patterns)
    upper2 = _choice(rng, _ANY_COLOUR, exclude=(upper,)) if pattern != "plain" else upper
    period = float(_PERIODS[int(rng.integers(len(_PERIODS)))]) if pattern != "plain" else 0.0
    lower = _choice(rng, domain.lower_colours)
    has_logo = rng.random() < domain.logo
    logo_shape, logo_colour = _sample_logo(rng, upper, upper2) if has_logo else (None, None)
    bag = _choice(rng, domain.bags)
    return PersonSpec(
        key=key,
        family=family,
        varied_cue=None,
        height=round(float(np.clip(rng.normal(1.0, 0.045), 0.88, 1.1)), 3),
        build=round(float(np.clip(rng.normal(1.0, 0.09), 0.8, 1.25)), 3),
        skin=_choice(rng, {"pale": 2, "light": 3, "tan": 2, "brown": 1.5, "dark": 1}),
        hair_colour=_choice(rng, _HAIR_PRIOR),
        hair_style="long" if rng.random() < domain.long_hair else "short",
        upper_colour=upper,
        upper_pattern=pattern,
        upper_colour2=upper2,
        stripe_period=period,
        sleeves="long" if rng.random() < domain.long_sleeves else "short",
        lower_colour=lower,
        lower_type=_choice(rng, domain.lower_types),
        shoes=_choice(rng, _SHOE_COLOURS, exclude=(lower,)),
        logo_shape=logo_shape,
        logo_colour=logo_colour,
        glasses=bool(rng.random() < domain.glasses),
        hat=_choice(rng, _HAT_COLOURS) if rng.random() < domain.hat else None,
        bag=bag,
        bag_colour=_choice(rng, _ANY_COLOUR, exclude=(upper,)) if bag != "none" else None,
        bag_side=1 if rng.random() < 0.5 else -1,
    )


def _vary_local_cue(base: PersonSpec, rng: np.random.Generator, key: int) -> PersonSpec:
    """A family member: the base identity with exactly one local cue changed (Fig. 1)."""
    cues = ["logo", "logo", "shoes", "glasses", "hat"]
    if base.upper_pattern != "plain":
        cues.append("stripe_period")
    cue = cues[int(rng.integers(len(cues)))]
    if cue == "logo":
        if base.logo_shape is None or rng.random() < 0.25:
            if base.logo_shape is None:
                shape, colour = _sample_logo(rng, base.upper_colour, base.upper_colour2)
            else:
                shape, colour = None, None
        elif rng.random() < 0.5:
            shape = LOGO_SHAPES[int(rng.integers(len(LOGO_SHAPES)))]
            colour = base.logo_colour
            if shape == base.logo_shape:
                shape = LOGO_SHAPES[(LOGO_SHAPES.index(shape) + 1) % len(LOGO_SHAPES)]
        else:
            shape = base.logo_shape
            colour = _choice(rng, _LOGO_COLOURS,
                             exclude=(base.upper_colour, base.upper_colour2, base.logo_colour))
        new = replace(base, logo_shape=shape, logo_colour=colour)
    elif cue == "shoes":
        shoes = _choice(rng, _SHOE_COLOURS, exclude=(base.shoes, base.lower_colour))
        new = replace(base, shoes=shoes)
    elif cue == "glasses":
        new = replace(base, glasses=not base.glasses)
    elif cue == "hat":
        hat = None if base.hat is not None else _choice(rng, _HAT_COLOURS)
        new = replace(base, hat=hat)
    else:
        others = [p for p in _PERIODS if abs(p - base.stripe_period) > 1e-9]
        new = replace(base, stripe_period=float(others[int(rng.integers(len(others)))]))
    return replace(new, key=key, varied_cue=cue)


# --------------------------------------------------------------------------------------------
# World kinds: who the people are (the instrument's one varied property; see the module
# docstring of osnet_lib.synthetic and book/worlds.md)
# --------------------------------------------------------------------------------------------

#: The kinds of world the generator can make, each with what decides identity in it.
WORLD_KINDS: dict[str, str] = {
    "default": "confuser families that share every global cue and differ in one local cue",
    "omni": "identity only in combinations of cues at several scales: families of four share "
            "every colour and differ by a code of stripe period, chest logo shape (front) and "
            "back print shape (back), any two of which identify a member",
    "control": "one global cue decides identity: a garment colour combination unique to each "
               "identity; no local cues",
}

#: ``omni``: the member code of a family (stripe period, chest logo, back print; 0 or 1 picks
#: one of the family's two values). The even-parity corners of the cube: every value is worn by
#: two members, every two members differ in exactly two cues, any two cues identify a member.
OMNI_CODE: tuple[tuple[int, int, int], ...] = ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0))
#: ``omni``: the shared small-cue vocabulary. Shapes covering nearly the same area of their box
#: (cross 0.51, diamond and ring 0.55), so a logo's shape does not change how much of its colour
#: an image holds; pattern periods as fractions of body height (about 4, 8 and 13 pixels at
#: 128x64), with equal areas of both colours at every period.
OMNI_SHAPES: tuple[str, ...] = ("cross", "diamond", "ring")
OMNI_PERIODS: tuple[float, ...] = (0.04, 0.07, 0.12)
_OMNI_CUES = ("stripe_period", "logo", "back_mark")
#: ``control``: the garment fields whose combination is unique to each identity.
CONTROL_CUE: tuple[str, ...] = ("upper_colour", "lower_colour", "lower_type", "sleeves")


def check_kind(kind: str) -> str:
    """``kind`` if it names a world kind of :data:`WORLD_KINDS`.

    Raises:
        TypeError: ``kind`` is not a string.
        ValueError: an unknown kind, naming the valid ones.
    """
    if not isinstance(kind, str):
        raise TypeError(f"world kind must be a string, got {kind!r}")
    if kind not in WORLD_KINDS:
        raise ValueError(f"unknown world kind {kind!r}; valid kinds: {list(WORLD_KINDS)}")
    return kind


def control_capacity(domain: "str | DomainSpec") -> int:
    """How many distinct identities one split of a ``control`` world of ``domain`` can hold:
    the number of :data:`CONTROL_CUE` combinations (colours x colours x lower types x sleeves)."""
    return len(COLOURS) ** 2 * len(get_domain(domain).lower_types) * 2


def _sample_omni_family(spec: DomainSpec, rng: np.random.Generator, key: int,
                        family: int) -> list[PersonSpec]:
    """Four identities that share every colour and every global cue; they differ only in the
    code :data:`OMNI_CODE` over two stripe periods, two chest-logo shapes and two back-print
    shapes drawn from the shared vocabularies :data:`OMNI_PERIODS` and :data:`OMNI_SHAPES`."""
    base = _sample_base(spec, rng, key, family)
    patterns = {k: v for k, v in spec.patterns.items() if k != "plain"}
    pattern = _choice(rng, patterns)
    upper2 = (base.upper_colour2 if base.upper_pattern != "plain"
              else _choice(rng, _ANY_COLOUR, exclude=(base.upper_colour,)))
    logo_colour = _choice(rng, _LOGO_COLOURS, exclude=(base.upper_colour, upper2))
    periods = sorted(float(p) for p in rng.choice(OMNI_PERIODS, size=2, replace=False))
    logos = [str(x) for x in rng.choice(OMNI_SHAPES, size=2, replace=False)]
    backs = [str(x) for x in rng.choice(OMNI_SHAPES, size=2, replace=False)]
    base = replace(base, upper_pattern=pattern, upper_colour2=upper2, logo_colour=logo_colour)
    members = []
    for i, (a, b, c) in enumerate(OMNI_CODE):
        varied = "+".join(cue for cue, bit in zip(_OMNI_CUES, (a, b, c)) if bit) or None
        members.append(replace(base, key=key + i, varied_cue=varied, stripe_period=periods[a],
                               logo_shape=logos[b], back_mark=backs[c]))
    return members


def _sample_control(spec: DomainSpec, num_ids: int, rng: np.random.Generator,
                    first_key: int) -> list[PersonSpec]:
    """``num_ids`` identities, each with its own combination of :data:`CONTROL_CUE` (plain
    upper garment colour, lower garment colour and type, sleeves), drawn without replacement
    over all colours with the domain's priors (floored, so rare colours still occur); no logo,
    print, hat, glasses or bag, black shoes. Each identity is its own family."""
    def weights(prior: dict[str, float], names) -> np.ndarray:
        w = np.array([prior.get(n, 0.0) for n in names], dtype=np.float64)
        w = w / w.sum()
        return w + 0.2 / len(names)

    colours = list(COLOURS)
    types = list(spec.lower_types)
    wu = weights(spec.upper_colours, colours)
    wl = weights(spec.lower_colours, colours)
    wt = weights(spec.lower_types, types)
    ws = np.array([1.0 - spec.long_sleeves, spec.long_sleeves]) + 0.1
    joint = (wu[:, None, None, None] * wl[None, :, None, None] * wt[None, None, :, None]
             * ws[None, None, None, :]).ravel()
    if num_ids > control_capacity(spec):
        raise ValueError(f"a control world has at most {control_capacity(spec)} distinct garment "
                         f"combinations per split, got num_ids={num_ids}")
    picks = rng.choice(joint.size, size=num_ids, replace=False, p=joint / joint.sum())
    people = []
    for i, flat in enumerate(picks):
        u, l_, t, sl = np.unravel_index(int(flat), (len(colours), len(colours), len(types), 2))
        base = _sample_base(spec, rng, first_key + i, i)
        people.append(replace(
            base, upper_colour=colours[u], upper_pattern="plain", upper_colour2=colours[u],
            stripe_period=0.0, lower_colour=colours[l_], lower_type=types[t],
            sleeves=("short", "long")[sl], shoes="black", logo_shape=None, logo_colour=None,
            glasses=False, hat=None, bag="none", bag_colour=None, bag_side=1))
    return people


def sample_population(
    domain: "str | DomainSpec", num_ids: int, rng: np.random.Generator, *, first_key: int = 0,
    kind: str = "default",
) -> list[PersonSpec]:
    """Sample ``num_ids`` distinct identities of ``domain``, in confuser families (Fig. 1).

    ``kind="default"``: each family draws one base identity from the domain's population
    priors; its other members copy every global cue and change one local cue (logo shape or
    colour, shoes, glasses, hat or stripe period). ``kind="omni"``: families of four that share
    every colour and differ by the code :data:`OMNI_CODE` (see :func:`_sample_omni_family`).
    ``kind="control"``: one garment colour combination per identity (:data:`CONTROL_CUE`).
    No two identities share all cues. Keys run from ``first_key``.

    Raises:
        ValueError: ``num_ids`` is negative, an unknown ``kind``, or more ``control``
            identities than garment combinations.
    """
    spec = get_domain(domain)
    if not isinstance(num_ids, (int, np.integer)) or num_ids < 0:
        raise ValueError(f"num_ids must be a non-negative integer, got {num_ids!r}")
    kind = check_kind(kind)
    if kind == "control":
        return _sample_control(spec, int(num_ids), rng, first_key)
    if kind == "omni":
        people: list[PersonSpec] = []
        seen: set[tuple] = set()
        family = 0
        while len(people) < num_ids:
            members = _sample_omni_family(spec, rng, first_key + len(people), family)
            if any(m.signature() in seen for m in members):
                continue
            for m in members[: num_ids - len(people)]:
                seen.add(m.signature())
                people.append(m)
            family += 1
        return people
    sizes = np.asarray(spec.family_sizes, dtype=np.float64)
    people = []
    seen = set()
    family = 0
    while len(people) < num_ids:
        size = 1 + int(rng.choice(len(sizes), p=sizes / sizes.sum()))
        base = _sample_base(spec, rng, first_key + len(people), family)
        if base.signature() in seen:
            continue
        members = [base]
        tries = 0
        while len(members) < size and tries < 20:
            tries += 1
            m = _vary_local_cue(base, rng, first_key + len(people) + len(members))
            if m.signature() in seen or any(m.signature() == x.signature() for x in members):
                continue
            members.append(m)
        for m in members[: num_ids - len(people)]:
            seen.add(m.signature())
            people.append(m)
        family += 1
    return people


def sample_person(domain: "str | DomainSpec" = "market", seed: int = 0) -> PersonSpec:
    """One identity drawn from ``domain``'s population priors (for illustrations)."""
    return _sample_base(get_domain(domain), np.random.default_rng(seed), key=0, family=0)


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


class Canvas:
    """An RGB image being painted, its part-label plane, and a small colour table.

    Coordinates are pixel centres (row ``i`` is at ``y = i + 0.5``). Primitives write only inside
    their bounding box; later primitives cover earlier ones (painter's order). Each primitive
    paints a colour of the table (or two, for patterns) times its own shading.
    """

    def __init__(self, height: int, width: int, background: np.ndarray | None = None) -> None:
        self.height = int(height)
        self.width = int(width)
        self.ys = (np.arange(self.height, dtype=np.float32) + 0.5)[:, None]
        self.xs = (np.arange(self.width, dtype=np.float32) + 0.5)[None, :]
        self.label = np.zeros((self.height, self.width), dtype=np.uint8)
        if background is None:
            self.image = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        else:
            if background.shape != (self.height, self.width, 3):
                raise ValueError(f"background must have shape {(self.height, self.width, 3)}, "
                                 f"got {background.shape}")
            self.image = np.array(background, dtype=np.uint8, copy=True, order="C")
        self.colours = np.zeros((256, 3), dtype=np.float32)
        self.num_colours = 1

    def add_colour(self, rgb: tuple[float, float, float]) -> int:
        """Register a colour (clipped to 0..255) and return its index (at most 255 per image)."""
        if self.num_colours >= 256:
            raise ValueError("a canvas holds at most 255 colours")
        self.colours[self.num_colours] = np.clip(np.asarray(rgb, dtype=np.float32), 0, 255)
        self.num_colours += 1
        return self.num_colours - 1

    def _box(self, y0: float, y1: float, x0: float, x1: float):
        i0 = max(0, int(np.ceil(y0 - 0.5)))
        i1 = min(self.height, int(np.ceil(y1 - 0.5)))
        j0 = max(0, int(np.floor(x0)))
        j1 = min(self.width, int(np.ceil(x1)))
        if i1 <= i0 or j1 <= j0:
            return None
        return i0, i1, j0, j1

    def _write(self, box, mask, part: int, mat, shade) -> None:
        i0, i1, j0, j1 = box
        np.copyto(self.label[i0:i1, j0:j1], part, where=mask)
        if isinstance(mat, np.ndarray):
            rgb = np.take(self.colours, mat, axis=0)
        else:
            rgb = self.colours[mat]
        if isinstance(shade, np.ndarray):
            rgb = rgb * shade[..., None]
        elif shade != 1.0:
            rgb = rgb * shade
        np.copyto(self.image[i0:i1, j0:j1], rgb, where=mask[..., None], casting="unsafe")

    def quad(
        self,
        y0: float,
        y1: float,
        cx0: float,
        cx1: float,
        w0: float,
        w1: float,
        part: int,
        mat: int,
        *,
        rounding: float = 0.35,
        pattern: str = "plain",
        mat2: int = 0,
        period: float = 0.0,
        dim: float = 1.0,
        origin: tuple[float, float] | None = None,
    ) -> None:
        """A tapered, slanted quadrilateral from row ``y0`` to ``y1``: its centre moves linearly
        from ``cx0`` to ``cx1`` and its width from ``w0`` to ``w1``. Cylindrical shading darkens
        its sides (``rounding``); ``pattern`` paints stripes or checks of ``period`` pixels in
        colours ``mat``/``mat2`` (indices into the colour table) anchored at ``origin`` (y, x)."""
        if y1 <= y0:
            return
        half = 0.5 * max(w0, w1)
        box = self._box(y0, y1, min(cx0, cx1) - half, max(cx0, cx1) + half)
        if box is None:
            return
        i0, i1, j0, j1 = box
        ys = self.ys[i0:i1]
        xs = self.xs[:, j0:j1]
        shape = (i1 - i0, j1 - j0)
        c: float | np.ndarray
        shade: float | np.ndarray
        if cx0 == cx1 and w0 == w1:  # an upright rectangle: one row describes every row
            c = cx0
            d = (xs - cx0) * (1.0 / (0.5 * w0 + 1e-3))
            mask = np.broadcast_to(np.abs(d) <= 1.0, shape)
        else:
            t = (ys - y0) * (1.0 / (y1 - y0))
            c = cx0 + t * (cx1 - cx0)
            hw = 0.5 * (w0 + t * (w1 - w0)) + 1e-3
            d = (xs - c) / hw
            mask = np.abs(d) <= 1.0
        if rounding:
            shade = dim - (dim * rounding) * (d * d)
            if shade.shape != shape:
                shade = np.broadcast_to(shade, shape)
        else:
            shade = dim
        if pattern == "plain" or period <= 0:
            self._write(box, mask, part, mat, shade)
            return
        oy, ox = origin if origin is not None else (y0, 0.5 * (cx0 + cx1))
        half_p = 0.5 * period
        if pattern == "hstripes":
            on = (np.floor((ys - oy) / half_p).astype(np.int32) & 1).astype(bool)
            on = np.broadcast_to(on, mask.shape)
        elif pattern == "vstripes":
            on = (np.floor((xs - c - (ox - 0.5 * (cx0 + cx1))) / half_p).astype(np.int32) & 1)
            on = np.broadcast_to(on.astype(bool), mask.shape)
        else:
            a = np.floor((ys - oy) / half_p).astype(np.int32)
            b = np.floor((xs - c) / half_p).astype(np.int32)
            on = ((a + b) & 1).astype(bool)
        mats = np.where(on, np.uint8(mat2), np.uint8(mat))
        self._write(box, mask, part, mats, shade)

    def ellipse(
        self, cy: float, cx: float, ry: float, rx: float, part: int, mat: int, *,
        rounding: float = 0.3, dim: float = 1.0, ymax: float | None = None,
    ) -> None:
        """A filled ellipse (optionally cut below row ``ymax``) with radial shading."""
        y_end = cy + ry if ymax is None else min(cy + ry, ymax)
        box = self._box(cy - ry, y_end, cx - rx, cx + rx)
        if box is None:
            return
        i0, i1, j0, j1 = box
        u = (self.xs[:, j0:j1] - cx) * (1.0 / rx)
        v = (self.ys[i0:i1] - cy) * (1.0 / ry)
        r2 = u * u + v * v
        mask = r2 <= 1.0
        shade = dim * (1.0 - rounding * r2) if rounding else dim
        self._write(box, mask, part, mat, shade)

    def logo(self, cy: float, cx: float, size: float, shape: str, part: int, mat: int) -> None:
        """A logo of ``shape`` (one of ``LOGO_SHAPES``) in a ``size`` x ``size`` box."""
        r = 0.5 * size
        box = self._box(cy - r, cy + r, cx - r, cx + r)
        if box is None:
            return
        i0, i1, j0, j1 = box
        u = (self.xs[:, j0:j1] - cx) * (1.0 / r)
        v = (self.ys[i0:i1] - cy) * (1.0 / r)
        au, av = np.abs(u), np.abs(v)
        if shape == "circle":
            mask = u * u + v * v <= 1.0
        elif shape == "square":
            mask = (au <= 0.8) & (av <= 0.8)
        elif shape == "triangle":
            mask = (v <= 0.85) & (au <= 0.5 * (v + 1.0))
        elif shape == "cross":
            mask = ((au <= 0.3) & (av <= 1.0)) | ((av <= 0.3) & (au <= 1.0))
        elif shape == "diamond":
            mask = au + av <= 1.05
        elif shape == "ring":
            r2 = u * u + v * v
            mask = (r2 <= 1.0) & (r2 >= 0.3)
        else:
            raise ValueError(f"unknown logo shape {shape!r}; valid shapes: {list(LOGO_SHAPES)}")
        mask = np.broadcast_to(mask, (i1 - i0, j1 - j0))
        self._write(box, mask, part, mat, 1.0)


@dataclass(frozen=True)
class Placement:
    """Where and how one image shows a person: view, facing (+1 right, -1 left, for side views),
    body height ``h`` in pixels, feet position (``cx``, ``feet_y``), arm swing and leg stride in
    [-1, 1], and a small torso lean in pixels."""

    view: str
    facing: int
    h: float
    cx: float
    feet_y: float
    swing: float = 0.0
    stride: float = 0.0
    lean: float = 0.0


def draw_person(canvas: Canvas, person: PersonSpec, place: Placement,
                jitter: np.ndarray | None = None) -> None:
    """Draw ``person`` on ``canvas`` in painter's order for the placement's view.

    ``jitter`` (optional, shape (k, 3)) multiplies the person's garment, skin and accessory
    colours, to vary dye and lighting slightly between images of one identity. The logo is drawn
    only in front views, the back print (``back_mark``, part label ``logo``) only in back views,
    and the backpack body only in back and side views (front views show its straps).
    """
    if place.view not in VIEWS:
        raise ValueError(f"unknown view {place.view!r}; valid views: {list(VIEWS)}")
    P = PART_LABELS
    h = place.h * person.height
    top = place.feet_y - h
    cx = place.cx
    bw = _WIDTH * person.build
    d = place.facing if place.view == "side" else 1

    def Y(f: float) -> float:
        return top + f * h

    palette = {
        "skin": SKIN_TONES[person.skin],
        "hair": HAIR_COLOURS[person.hair_colour],
        "upper": COLOURS[person.upper_colour],
        "upper2": COLOURS[person.upper_colour2],
        "lower": COLOURS[person.lower_colour],
        "shoes": COLOURS[person.shoes],
        "logo": COLOURS[person.logo_colour] if person.logo_colour else (0, 0, 0),
        "hat": COLOURS[person.hat] if person.hat else (0, 0, 0),
        "bag": COLOURS[person.bag_colour] if person.bag_colour else (0, 0, 0),
        "glasses": _GLASSES_RGB,
    }
    m = {}
    for i, (name, rgb) in enumerate(palette.items()):
        if jitter is not None:
            g = jitter[i % len(jitter)]
            rgb = (rgb[0] * g[0], rgb[1] * g[1], rgb[2] * g[2])
        m[name] = canvas.add_colour(rgb)
    bag_dark = canvas.add_colour(0.7 * canvas.colours[m["bag"]])

    pat = person.upper_pattern
    period = person.stripe_period * h
    upper_kw: dict[str, Any] = dict(pattern=pat, mat2=m["upper2"], period=period,
                                    origin=(Y(0.15), cx))
    lean = place.lean
    swing, stride = place.swing, place.stride
    view = place.view

    def lower_body(x_hip: float, x_ankle: float, dim: float = 1.0) -> None:
        """One leg: garment over the hip part, skin below for shorts and skirts."""
        lw0, lw1 = 0.1 * h * bw, 0.075 * h * bw
        if person.lower_type == "trousers":
            canvas.quad(Y(0.52), Y(0.935), x_hip, x_ankle, lw0, lw1, P["legs"], m["lower"], dim=dim)
        else:
            knee = 0.68 if person.lower_type == "shorts" else 0.72
            t = (knee - 0.52) / (0.935 - 0.52)
            xk = x_hip + t * (x_ankle - x_hip)
            canvas.quad(Y(knee - 0.01), Y(0.935), xk, x_ankle, 0.065 * h * bw, 0.055 * h * bw,
                        P["legs"], m["skin"], dim=dim)
            if person.lower_type == "shorts":
                canvas.quad(Y(0.52), Y(knee), x_hip, xk, lw0, 0.09 * h * bw, P["legs"],
                            m["lower"], dim=dim)

    def shoe(x: float, dim: float = 1.0) -> None:
        if view == "side":
            canvas.ellipse(Y(0.96), x + d * 0.02 * h, 0.032 * h, 0.06 * h, P["shoes"], m["shoes"],
                           dim=dim)
        else:
            canvas.ellipse(Y(0.962), x, 0.034 * h, 0.05 * h * bw, P["shoes"], m["shoes"], dim=dim)

    def arm(x_sh: float, x_hand: float, dim: float = 1.0) -> None:
        y_sh, y_hand = Y(0.17), Y(0.46 - 0.02 * abs(swing))
        w0, w1 = 0.065 * h * bw, 0.05 * h * bw
        if person.sleeves == "long":
            canvas.quad(y_sh, y_hand, x_sh, x_hand, w0, w1, P["arms"], m["upper"], dim=dim)
        else:
            t = 0.3
            x_el = x_sh + t * (x_hand - x_sh)
            y_el = y_sh + t * (y_hand - y_sh)
            canvas.quad(y_el, y_hand, x_el, x_hand, 0.05 * h * bw, 0.045 * h * bw, P["arms"],
                        m["skin"], dim=dim)
            canvas.quad(y_sh, y_el + 0.01 * h, x_sh, x_el, w0, 0.06 * h * bw, P["arms"],
                        m["upper"], dim=dim)
        canvas.ellipse(y_hand + 0.012 * h, x_hand, 0.025 * h, 0.022 * h, P["arms"], m["skin"],
                       dim=dim)

    def skirt() -> None:
        if person.lower_type == "skirt":
            canvas.quad(Y(0.5), Y(0.72), cx, cx + 0.3 * lean, 0.22 * h * bw, 0.3 * h * bw,
                        P["legs"], m["lower"], rounding=0.2)

    def hips(width: float) -> None:
        if person.lower_type != "skirt":
            canvas.quad(Y(0.49), Y(0.58), cx + 0.5 * lean, cx + 0.3 * lean, width, width * 0.98,
                        P["legs"], m["lower"], rounding=0.25)

    if view in ("front", "back"):
        sw = 0.255 * h * bw       # shoulder width
        ww = 0.215 * h * bw       # waist width
        mirror = 1 if view == "front" else -1
        if person.hair_style == "long" and view == "front":
            canvas.quad(Y(0.05), Y(0.22), cx + lean, cx + lean, 0.12 * h, 0.14 * h, P["hair"],
                        m["hair"], rounding=0.2)
        # legs and shoes
        sep0, sep1 = 0.055 * h * bw, (0.05 + 0.015 * abs(stride)) * h * bw
        for s in (-1, 1):
            lower_body(cx + s * sep0, cx + s * sep1 + 0.01 * h * stride * s)
        for s in (-1, 1):
            shoe(cx + s * sep1 + 0.01 * h * stride * s)
        hips(0.23 * h * bw)
        skirt()
        # torso
        canvas.quad(Y(0.145), Y(0.52), cx + lean, cx + 0.5 * lean, sw, ww, P["torso"],
                    m["upper"], **upper_kw)
        # arms
        for s in (-1, 1):
            x_sh = cx + lean + s * (0.5 * sw - 0.02 * h)
            x_hand = cx + 0.5 * lean + s * (0.5 * sw + 0.012 * h) + 0.015 * h * swing * s
            arm(x_sh, x_hand)
        # neck and head
        canvas.quad(Y(0.11), Y(0.16), cx + lean, cx + lean, 0.05 * h, 0.05 * h, P["head"],
                    m["skin"], rounding=0.2)
        hx = cx + lean
        if view == "front":
            canvas.ellipse(Y(0.062), hx, 0.064 * h, 0.053 * h, P["hair"], m["hair"])
            canvas.ellipse(Y(0.08), hx, 0.052 * h, 0.045 * h, P["head"], m["skin"], rounding=0.2)
            if person.glasses:
                canvas.quad(Y(0.068), Y(0.084), hx, hx, 0.082 * h, 0.082 * h, P["glasses"],
                            m["glasses"], rounding=0.0)
        else:
            canvas.ellipse(Y(0.066), hx, 0.064 * h, 0.05 * h, P["hair"], m["hair"])
            if person.hair_style == "long":
                canvas.quad(Y(0.06), Y(0.23), hx, hx, 0.1 * h, 0.12 * h, P["hair"], m["hair"],
                            rounding=0.25)
        if person.hat:
            canvas.quad(Y(-0.008), Y(0.04), hx, hx, 0.085 * h, 0.11 * h, P["hat"], m["hat"])
            if view == "front":
                canvas.quad(Y(0.03), Y(0.048), hx, hx, 0.125 * h, 0.125 * h, P["hat"], m["hat"],
                            dim=0.8, rounding=0.1)
        # chest logo (front only)
        if view == "front" and person.logo_shape:
            canvas.logo(Y(0.27), cx + 0.8 * lean, 0.085 * h, person.logo_shape, P["logo"],
                        m["logo"])
        # bags
        if person.bag == "backpack":
            if view == "front":
                for s in (-1, 1):
                    canvas.quad(Y(0.15), Y(0.36), cx + lean + s * 0.07 * h * bw,
                                cx + lean + s * 0.075 * h * bw, 0.022 * h, 0.022 * h, P["bag"],
                                bag_dark, rounding=0.0)
            else:
                canvas.quad(Y(0.18), Y(0.45), cx + lean, cx + 0.6 * lean, 0.2 * h * bw,
                            0.19 * h * bw, P["bag"], m["bag"], rounding=0.3)
                canvas.quad(Y(0.18), Y(0.26), cx + lean, cx + 0.9 * lean, 0.19 * h * bw,
                            0.19 * h * bw, P["bag"], bag_dark, rounding=0.3)
        elif person.bag == "shoulder":
            side = person.bag_side * mirror
            xb = cx + side * (0.5 * sw + 0.025 * h)
            canvas.quad(Y(0.16), Y(0.44), cx - side * 0.06 * h, xb - side * 0.01 * h, 0.02 * h,
                        0.02 * h, P["bag"], bag_dark, rounding=0.0)
            canvas.quad(Y(0.42), Y(0.55), xb, xb, 0.1 * h, 0.1 * h, P["bag"], m["bag"],
                        rounding=0.3)
        # back print (omni worlds; back only, over a backpack if there is one)
        if view == "back" and person.back_mark:
            canvas.logo(Y(0.3), cx + 0.8 * lean, 0.085 * h, person.back_mark, P["logo"],
                        m["logo"])
    else:  # side view, facing d
        tw = 0.15 * h * bw
        back_x_hand = cx - d * 0.07 * h * swing
        front_x_hand = cx + d * 0.07 * h * swing
        back_ankle = cx - d * 0.08 * h * stride
        front_ankle = cx + d * 0.08 * h * stride
        arm(cx + lean, back_x_hand + lean * 0.5, dim=0.75)
        lower_body(cx, back_ankle, dim=0.8)
        shoe(back_ankle, dim=0.8)
        if person.hair_style == "long":
            canvas.quad(Y(0.05), Y(0.23), cx + lean - d * 0.03 * h, cx + lean - d * 0.05 * h,
                        0.07 * h, 0.08 * h, P["hair"], m["hair"], rounding=0.2)
        if person.bag == "backpack":
            xb = cx + lean - d * (0.5 * tw + 0.035 * h)
            canvas.quad(Y(0.18), Y(0.45), xb, xb, 0.085 * h, 0.08 * h, P["bag"], m["bag"],
                        rounding=0.3)
        hips(0.16 * h * bw)
        lower_body(cx, front_ankle)
        shoe(front_ankle)
        skirt()
        canvas.quad(Y(0.145), Y(0.52), cx + lean, cx + 0.5 * lean, tw, 0.14 * h * bw,
                    P["torso"], m["upper"], **upper_kw)
        if person.bag == "shoulder":
            xb = cx + 0.5 * lean + d * 0.01 * h
            canvas.quad(Y(0.16), Y(0.44), cx + lean, xb, 0.02 * h, 0.02 * h, P["bag"], bag_dark,
                        rounding=0.0)
            canvas.quad(Y(0.42), Y(0.55), xb, xb, 0.085 * h, 0.085 * h, P["bag"], m["bag"],
                        rounding=0.3)
        arm(cx + lean, front_x_hand + lean * 0.5)
        hx = cx + lean + d * 0.008 * h
        canvas.quad(Y(0.11), Y(0.16), hx, hx, 0.045 * h, 0.045 * h, P["head"], m["skin"],
                    rounding=0.2)
        canvas.ellipse(Y(0.072), hx, 0.062 * h, 0.046 * h, P["head"], m["skin"], rounding=0.2)
        canvas.ellipse(Y(0.058), hx - d * 0.012 * h, 0.056 * h, 0.045 * h, P["hair"], m["hair"])
        if person.glasses:
            canvas.quad(Y(0.068), Y(0.084), hx + d * 0.03 * h, hx + d * 0.03 * h, 0.03 * h,
                        0.03 * h, P["glasses"], m["glasses"], rounding=0.0)
        if person.hat:
            canvas.quad(Y(-0.008), Y(0.04), hx, hx, 0.08 * h, 0.1 * h, P["hat"], m["hat"])
            canvas.quad(Y(0.03), Y(0.048), hx + d * 0.04 * h, hx + d * 0.06 * h, 0.09 * h,
                        0.07 * h, P["hat"], m["hat"], dim=0.8, rounding=0.1)


def render_person(
    person: PersonSpec,
    view: str = "front",
    size: tuple[int, int] = (256, 128),
    *,
    facing: int = 1,
    swing: float = 0.0,
    stride: float = 0.0,
    background: tuple[int, int, int] = (255, 255, 255),
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one identity, centred and without camera effects, on a plain background.

    Returns ``(image, mask)``: an ``(H, W, 3)`` uint8 RGB image and the ``(H, W)`` uint8 part
    mask (labels in :data:`PART_LABELS`). ``size`` is ``(height, width)``. Use
    :func:`osnet_lib.synthetic.render_image` for an image as a camera of a domain sees it.

    Raises:
        ValueError: unknown ``view``, or a non-positive ``size``.
    """
    height, width = _check_size(size, "size")
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; valid views: {list(VIEWS)}")
    bg = np.broadcast_to(np.asarray(background, np.uint8), (height, width, 3))
    canvas = Canvas(height, width, bg)
    place = Placement(view=view, facing=1 if facing >= 0 else -1, h=0.9 * height,
                      cx=0.5 * width, feet_y=0.96 * height, swing=swing, stride=stride)
    draw_person(canvas, person, place)
    return canvas.image, canvas.label


def _check_size(size, what: str) -> tuple[int, int]:
    try:
        h, w = (int(size[0]), int(size[1]))
    except (TypeError, ValueError, IndexError):
        raise TypeError(f"{what} must be a (height, width) pair of integers, "
                        f"got {size!r}") from None
    if len(size) != 2 or h < 16 or w < 8:
        raise ValueError(f"{what} must be (height, width) with height >= 16 and width >= 8, "
                         f"got {size!r}")
    return h, w
