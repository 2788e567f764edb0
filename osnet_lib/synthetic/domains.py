"""Domains of the synthetic re-ID world: stand-ins for the paper's four big datasets (Table 2).

A domain fixes a *style* (illumination, colour cast, contrast, background scene, noise, blur)
and a *population* (priors over garment colours, patterns, garment types, accessories and
confuser-family sizes). Two domains therefore differ both in how images look and in who walks
through them, which is what makes the cross-domain protocols of Sec. 4.2 (Tables 7, 9-11)
meaningful: a model trained on one domain and tested on another meets new lighting, new
backgrounds and new clothing statistics at once.

Colours are kept as names (``"navy"``) in the attributes so that the ground truth can be read
like the captions of the paper's Fig. 6 ("yellow T-shirt + black shorts").
"""

from dataclasses import dataclass

# Garment, logo, shoe, hat and bag colours (sRGB 0-255). Names are part of the ground truth.
COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (236, 236, 230),
    "light grey": (180, 180, 178),
    "grey": (125, 125, 125),
    "dark grey": (68, 68, 70),
    "black": (28, 28, 30),
    "navy": (30, 40, 92),
    "blue": (40, 86, 186),
    "light blue": (134, 176, 224),
    "teal": (24, 132, 134),
    "green": (44, 134, 62),
    "olive": (104, 112, 52),
    "yellow": (232, 204, 44),
    "orange": (232, 122, 34),
    "red": (196, 34, 38),
    "dark red": (112, 22, 32),
    "pink": (232, 144, 176),
    "purple": (112, 52, 144),
    "brown": (112, 72, 42),
    "beige": (204, 184, 144),
}

SKIN_TONES: dict[str, tuple[int, int, int]] = {
    "pale": (238, 204, 180),
    "light": (222, 180, 150),
    "tan": (190, 140, 104),
    "brown": (140, 96, 66),
    "dark": (96, 64, 46),
}

HAIR_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (24, 20, 20),
    "dark brown": (62, 40, 28),
    "brown": (110, 74, 44),
    "blond": (204, 170, 104),
    "grey": (150, 148, 146),
}

LOGO_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "diamond", "ring")
PATTERNS: tuple[str, ...] = ("plain", "hstripes", "vstripes", "checks")
LOWER_TYPES: tuple[str, ...] = ("trousers", "shorts", "skirt")
BAGS: tuple[str, ...] = ("none", "backpack", "shoulder")
VIEWS: tuple[str, ...] = ("front", "back", "side")
SCENES: tuple[str, ...] = ("pavement", "campus", "mall", "corridor")


@dataclass(frozen=True)
class DomainSpec:
    """Style and population of one synthetic domain (a stand-in for one dataset of Table 2).

    Style: ``illumination`` is the mean brightness gain, ``illumination_spread`` the spread of the
    per-camera gains (log scale), ``colour_cast`` an RGB gain, ``contrast`` a gain about mid-grey,
    ``scene`` the kind of background, ``noise`` and ``blur`` the mean sensor noise (grey levels)
    and Gaussian blur (pixels at 128x64). Viewpoint: ``view_prior`` is the mean (front, back,
    side) mix that each camera perturbs. Population: priors over colour names, patterns, lower
    garment types and bags, probabilities of accessories, and ``family_sizes``, the probabilities
    of confuser families of 1, 2, 3, ... identities that share every global cue (Fig. 1).
    """

    name: str
    stands_for: str
    index: int
    num_cameras: int
    illumination: float
    illumination_spread: float
    colour_cast: tuple[float, float, float]
    contrast: float
    scene: str
    noise: float
    blur: float
    view_prior: tuple[float, float, float]
    occlusion: float
    upper_colours: dict[str, float]
    lower_colours: dict[str, float]
    patterns: dict[str, float]
    lower_types: dict[str, float]
    bags: dict[str, float]
    long_sleeves: float
    long_hair: float
    hat: float
    glasses: float
    logo: float
    family_sizes: tuple[float, ...]


def _norm(prior: dict[str, float]) -> dict[str, float]:
    total = float(sum(prior.values()))
    return {k: round(v / total, 6) for k, v in prior.items()}


DOMAINS: dict[str, DomainSpec] = {
    "market": DomainSpec(
        name="market",
        stands_for="Market1501 (summer campus, outdoor, 6 cameras)",
        index=0,
        num_cameras=6,
        illumination=1.06,
        illumination_spread=0.10,
        colour_cast=(1.04, 1.0, 0.93),
        contrast=1.0,
        scene="pavement",
        noise=4.0,
        blur=0.6,
        view_prior=(0.40, 0.35, 0.25),
        occlusion=0.12,
        upper_colours=_norm({
            "white": 5, "light grey": 2, "grey": 2, "black": 3, "light blue": 3, "blue": 2,
            "pink": 2, "yellow": 2, "red": 2, "green": 2, "orange": 1, "purple": 1, "teal": 1,
            "beige": 1, "navy": 1,
        }),
        lower_colours=_norm({
            "black": 5, "blue": 3, "navy": 2, "grey": 2, "light grey": 1, "beige": 2, "white": 1,
            "brown": 1, "dark grey": 1,
        }),
        patterns=_norm({"plain": 5, "hstripes": 3, "vstripes": 1, "checks": 1}),
        lower_types=_norm({"trousers": 5, "shorts": 4, "skirt": 1}),
        bags=_norm({"none": 4, "backpack": 4, "shoulder": 2}),
        long_sleeves=0.25,
        long_hair=0.3,
        hat=0.12,
        glasses=0.25,
        logo=0.6,
        family_sizes=(0.25, 0.3, 0.25, 0.2),
    ),
    "duke": DomainSpec(
        name="duke",
        stands_for="DukeMTMC-reID (winter campus, outdoor, 8 cameras)",
        index=1,
        num_cameras=8,
        illumination=0.86,
        illumination_spread=0.14,
        colour_cast=(0.94, 1.0, 1.08),
        contrast=0.9,
        scene="campus",
        noise=5.0,
        blur=0.8,
        view_prior=(0.30, 0.40, 0.30),
        occlusion=0.22,
        upper_colours=_norm({
            "black": 6, "dark grey": 3, "navy": 3, "grey": 2, "dark red": 2, "brown": 2,
            "olive": 2, "white": 1, "red": 1, "blue": 1, "green": 1, "beige": 1,
        }),
        lower_colours=_norm({
            "black": 5, "navy": 3, "blue": 3, "dark grey": 3, "grey": 1, "brown": 1,
        }),
        patterns=_norm({"plain": 6, "hstripes": 1, "vstripes": 1, "checks": 2}),
        lower_types=_norm({"trousers": 9, "shorts": 0.5, "skirt": 0.5}),
        bags=_norm({"none": 3, "backpack": 5, "shoulder": 2}),
        long_sleeves=0.9,
        long_hair=0.3,
        hat=0.25,
        glasses=0.2,
        logo=0.5,
        family_sizes=(0.25, 0.3, 0.25, 0.2),
    ),
    "msmt": DomainSpec(
        name="msmt",
        stands_for="MSMT17 (mixed indoor and outdoor, varied weather; the largest camera network)",
        index=2,
        num_cameras=9,
        illumination=0.98,
        illumination_spread=0.25,
        colour_cast=(1.0, 1.02, 1.0),
        contrast=1.1,
        scene="mall",
        noise=6.0,
        blur=0.7,
        view_prior=(0.34, 0.33, 0.33),
        occlusion=0.2,
        upper_colours=_norm({c: 1.0 for c in COLOURS} | {"black": 3.0, "white": 2.0}),
        lower_colours=_norm({
            "black": 5, "blue": 2, "navy": 2, "grey": 2, "dark grey": 2, "beige": 1, "brown": 1,
            "white": 0.5, "olive": 0.5,
        }),
        patterns=_norm({"plain": 4, "hstripes": 2, "vstripes": 2, "checks": 2}),
        lower_types=_norm({"trousers": 7, "shorts": 2, "skirt": 1}),
        bags=_norm({"none": 4, "backpack": 3, "shoulder": 3}),
        long_sleeves=0.6,
        long_hair=0.35,
        hat=0.15,
        glasses=0.3,
        logo=0.55,
        family_sizes=(0.25, 0.3, 0.25, 0.2),
    ),
    "cuhk03": DomainSpec(
        name="cuhk03",
        stands_for="CUHK03 detected (indoor campus corridors, camera pairs)",
        index=3,
        num_cameras=2,
        illumination=1.0,
        illumination_spread=0.08,
        colour_cast=(1.08, 1.0, 0.86),
        contrast=0.8,
        scene="corridor",
        noise=3.0,
        blur=1.1,
        view_prior=(0.45, 0.40, 0.15),
        occlusion=0.08,
        upper_colours=_norm({
            "white": 4, "black": 4, "grey": 2, "blue": 2, "red": 2, "navy": 1, "light blue": 1,
            "green": 1, "yellow": 1, "pink": 1,
        }),
        lower_colours=_norm({"black": 6, "blue": 3, "navy": 2, "grey": 1, "white": 0.5}),
        patterns=_norm({"plain": 7, "hstripes": 2, "vstripes": 0.5, "checks": 0.5}),
        lower_types=_norm({"trousers": 7, "shorts": 2, "skirt": 1}),
        bags=_norm({"none": 3, "backpack": 5, "shoulder": 2}),
        long_sleeves=0.4,
        long_hair=0.25,
        hat=0.05,
        glasses=0.45,
        logo=0.5,
        family_sizes=(0.25, 0.3, 0.25, 0.2),
    ),
}


def list_domains() -> list[str]:
    """Names of the synthetic domains, in their canonical order."""
    return list(DOMAINS)


def get_domain(domain: "str | DomainSpec") -> DomainSpec:
    """Return the :class:`DomainSpec` called ``domain`` (or ``domain`` itself if it is one).

    Raises:
        ValueError: the name is not a known domain (the message lists the valid ones).
        TypeError: ``domain`` is neither a string nor a :class:`DomainSpec`.
    """
    if isinstance(domain, DomainSpec):
        return domain
    if not isinstance(domain, str):
        raise TypeError(f"domain must be a name or a DomainSpec, got {type(domain).__name__}")
    if domain not in DOMAINS:
        raise ValueError(f"unknown synthetic domain {domain!r}; valid domains: {list_domains()}")
    return DOMAINS[domain]
