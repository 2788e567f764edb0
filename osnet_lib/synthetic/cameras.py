"""Cameras of the synthetic world: viewpoint, detector crop, occlusion, lighting and optics.

Each camera of a domain has its own viewpoint mix (front, back, side), its own scale and crop
misalignment (as a pedestrian detector's boxes have), occlusion rate, blur, down-sampling,
sensor noise, gain, colour cast and background scene. These are the intra-identity variations
that re-ID must overcome across disjoint cameras (Sec. 1, Fig. 1): the same person looks
different in every camera, and no single cue survives every camera.

Camera parameters are derived from the world seed and the domain, so a world is fully described
by its recipe.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageChops

from .domains import COLOURS, DomainSpec, get_domain
from .people import PART_LABELS, Canvas


def _triple(values: Iterable[float]) -> tuple[float, float, float]:
    a, b, c = values
    return (a, b, c)

_SCENE_PALETTES: dict[str, list[tuple[tuple[int, int, int], tuple[int, int, int]]]] = {
    # (upper part: walls / vegetation / shop fronts, lower part: ground)
    "pavement": [((150, 160, 150), (172, 168, 160)), ((120, 140, 110), (160, 156, 150)),
                 ((178, 170, 160), (140, 138, 134)), ((110, 120, 128), (182, 178, 168))],
    "campus": [((58, 92, 52), (92, 90, 86)), ((72, 84, 70), (64, 88, 56)),
               ((96, 92, 86), (70, 72, 74)), ((44, 70, 48), (112, 106, 96))],
    "mall": [((196, 180, 150), (200, 196, 190)), ((120, 110, 150), (160, 160, 168)),
             ((70, 70, 80), (120, 118, 116)), ((210, 200, 190), (90, 84, 80))],
    "corridor": [((200, 188, 160), (150, 130, 110)), ((186, 180, 170), (120, 112, 104)),
                 ((170, 160, 140), (170, 150, 124)), ((208, 200, 186), (136, 124, 112))],
}


@dataclass(frozen=True)
class CameraSpec:
    """One camera of a domain.

    ``views`` are the probabilities of front, back and side tracklets; ``scale`` the range of
    person height as a fraction of the crop height; ``shift`` the standard deviations of the
    detector's horizontal and vertical misalignment (fractions of width and height);
    ``occlusion`` the probability of an occluder; ``blur`` the strength of defocus blur
    (about a Gaussian sigma in pixels); ``downsample`` the resolution loss factor (1 = none);
    ``noise`` the sensor noise in grey levels; ``gain`` and ``cast`` the brightness and RGB
    gains; ``light`` the strength of a left-right illumination gradient; ``jpeg_quality`` the
    JPEG quality of its images. ``blur`` and ``downsample`` together set the resolution at which
    the camera samples the scene (see :func:`resolution_factor`).
    """

    index: int
    views: tuple[float, float, float]
    scale: tuple[float, float]
    shift: tuple[float, float]
    occlusion: float
    blur: float
    downsample: float
    noise: float
    gain: float
    cast: tuple[float, float, float]
    light: float
    jpeg_quality: int

    def as_dict(self) -> dict:
        """JSON-friendly parameters (for ``world.json``)."""
        return asdict(self)


def build_cameras(domain: "str | DomainSpec", seed: int = 0) -> list[CameraSpec]:
    """The cameras of ``domain`` in a world of ``seed`` (camera ids 1..num_cameras).

    Every camera perturbs the domain's viewpoint prior towards a dominant view, and draws its
    own scale, misalignment, occlusion, blur, resolution, noise, gain and colour cast.
    """
    spec = get_domain(domain)
    rng = np.random.default_rng([int(seed), spec.index, 101])
    cams = []
    for c in range(spec.num_cameras):
        dominant = c % 3 if spec.num_cameras > 2 else c  # cameras see different mixes
        base = np.asarray(spec.view_prior, dtype=np.float64)
        views = rng.dirichlet(6.0 * base + 0.5)
        views = 0.55 * views + 0.45 * np.eye(3)[dominant]
        views = views / views.sum()
        lo = float(rng.uniform(0.8, 0.9))
        gain = float(spec.illumination * np.exp(rng.normal(0.0, spec.illumination_spread)))
        cast = np.asarray(spec.colour_cast) * np.exp(rng.normal(0.0, 0.04, size=3))
        cams.append(CameraSpec(
            index=c + 1,
            views=_triple(round(float(v), 4) for v in views),
            scale=(round(lo, 4), round(min(0.98, lo + float(rng.uniform(0.06, 0.1))), 4)),
            shift=(round(float(rng.uniform(0.03, 0.07)), 4),
                   round(float(rng.uniform(0.015, 0.04)), 4)),
            occlusion=round(float(np.clip(spec.occlusion * rng.uniform(0.4, 1.8), 0.0, 0.6)), 4),
            blur=round(float(spec.blur * rng.uniform(0.6, 1.5)), 4),
            downsample=round(float(rng.choice([1.0, 1.0, 1.5, 2.0, 2.5])), 4),
            noise=round(float(spec.noise * rng.uniform(0.6, 1.6)), 4),
            gain=round(gain, 4),
            cast=_triple(round(float(v), 4) for v in cast),
            light=round(float(rng.uniform(-0.25, 0.25)), 4),
            jpeg_quality=int(rng.integers(80, 96)),
        ))
    return cams


# --------------------------------------------------------------------------------------------
# Backgrounds
# --------------------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: tuple[int, int],
                  channels: int = 1) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid upsampled bicubically."""
    out = np.empty((height, width, channels), dtype=np.float32)
    for k in range(channels):
        small = rng.uniform(0, 255, size=cells).astype(np.uint8)
        up = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
        out[..., k] = np.asarray(up, dtype=np.float32) / 127.5 - 1.0
    return out


def make_scene(domain: "str | DomainSpec", camera: int, size: tuple[int, int],
               seed: int = 0) -> np.ndarray:
    """The background scene of one camera: an ``(2H, 2W, 3)`` uint8 array from which every
    image of that camera crops its background (so backgrounds repeat within a camera, as in a
    fixed surveillance view, and differ across cameras and domains)."""
    spec = get_domain(domain)
    H, W = 2 * int(size[0]), 2 * int(size[1])
    rng = np.random.default_rng([int(seed), spec.index, 202, int(camera)])
    # cameras of a domain share its palette (one site), each with its own variation
    palette = _SCENE_PALETTES[spec.scene]
    w = rng.dirichlet(np.ones(len(palette)) * 2.0)
    upper = sum(wi * np.asarray(p[0], np.float32) for wi, p in zip(w, palette))
    ground = sum(wi * np.asarray(p[1], np.float32) for wi, p in zip(w, palette))
    upper = upper * rng.uniform(0.92, 1.08, 3).astype(np.float32)
    ground = ground * rng.uniform(0.92, 1.08, 3).astype(np.float32)
    ys = np.arange(H, dtype=np.float32)[:, None] / H
    xs = np.arange(W, dtype=np.float32)[None, :] / W
    horizon = float(rng.uniform(0.3, 0.6))
    soft = np.clip((ys - horizon) / 0.04, -1, 1) * 0.5 + 0.5  # 0 above horizon, 1 below
    img = (1 - soft)[..., None] * upper + soft[..., None] * ground
    img = np.broadcast_to(img, (H, W, 3)).copy()
    img *= 1.0 + 0.12 * _smooth_noise(rng, H, W, (6, 4))
    if spec.scene == "pavement":  # paving tiles on the ground, hedges above
        period = float(rng.uniform(10, 18)) * H / 256
        lines = ((np.mod(ys * H, period) < 1.2)
                 | (np.mod(xs * W + 0.5 * ys * H, period * 1.6) < 1.2))
        img *= np.where(lines & (soft > 0.5), 0.82, 1.0)[..., None]
        img *= (1.0 + 0.18 * _smooth_noise(rng, H, W, (24, 16)) * (1 - soft)[..., None])
    elif spec.scene == "campus":  # foliage texture above, path below
        img *= (1.0 + 0.2 * _smooth_noise(rng, H, W, (40, 24)) * (1 - soft)[..., None])
        img *= (1.0 + 0.12 * _smooth_noise(rng, H, W, (30, 18)) * soft[..., None])
    elif spec.scene == "mall":  # coloured shop fronts and a glossy floor
        n = int(rng.integers(3, 6))
        edges = np.sort(rng.uniform(0, 1, n))
        idx = np.searchsorted(edges, xs[0])
        names = list(COLOURS)
        cols = np.asarray([COLOURS[names[int(rng.integers(len(names)))]] for _ in range(n + 1)],
                          np.float32)
        fronts = cols[idx][None, :, :] * 0.8 + upper * 0.2
        img = np.where((soft < 0.5)[..., None], 0.4 * fronts + 0.6 * img, img)
        img *= (1.0 + 0.25 * (1 - np.abs(xs - 0.5) * 2) * soft)[..., None]
    else:  # corridor: doors and skirting
        n = int(rng.integers(1, 3))
        for _ in range(n):
            x0 = float(rng.uniform(0, 0.8))
            door = (xs >= x0) & (xs < x0 + 0.15) & (ys > horizon - 0.35) & (ys < horizon)
            img = np.where(door[..., None], img * 0.6, img)
        skirt = np.abs(ys - horizon) < 0.012
        img = np.where(np.broadcast_to(skirt, (H, W))[..., None], img * 0.5, img)
    # a few objects (benches, bins, signs) in the scene
    for _ in range(int(rng.integers(1, 5))):
        h0, w0 = rng.uniform(0.05, 0.25), rng.uniform(0.03, 0.2)
        y0, x0 = rng.uniform(0.1, 0.9 - h0), rng.uniform(0, 1 - w0)
        names = list(COLOURS)
        col = np.asarray(COLOURS[names[int(rng.integers(len(names)))]], np.float32)
        box = (ys >= y0) & (ys < y0 + h0) & (xs >= x0) & (xs < x0 + w0)
        img = np.where(box[..., None], 0.35 * col + 0.65 * img, img)
    return (np.clip(img, 0, 255) + 0.5).astype(np.uint8)


def noise_bank(camera: CameraSpec, seed: int, domain_index: int,
               size: tuple[int, int]) -> Image.Image:
    """Sensor noise of one camera: a ``(2H, 2W)`` RGB image, 128 plus Gaussian noise of the
    camera's ``noise`` level, from which every image crops its noise (added with an offset
    of -128)."""
    rng = np.random.default_rng([int(seed), int(domain_index), 303, camera.index])
    n = rng.standard_normal((2 * size[0], 2 * size[1], 3), dtype=np.float32) * camera.noise
    return Image.fromarray(np.clip(n + 128.5, 0, 255).astype(np.uint8))


# --------------------------------------------------------------------------------------------
# Occluders and image formation
# --------------------------------------------------------------------------------------------

OCCLUDERS: tuple[str, ...] = ("pole", "low", "side")


def draw_occluder(canvas: Canvas, kind: str, rng: np.random.Generator) -> None:
    """Draw an occluder in front of the person: a ``pole``, a ``low`` object (car, bench,
    railing) hiding the legs, or a passer-by at the ``side``."""
    H, W = canvas.height, canvas.width
    names = list(COLOURS)
    col = COLOURS[names[int(rng.integers(len(names)))]]
    mat = canvas.add_colour(col)
    part = PART_LABELS["occluder"]
    if kind == "pole":
        x = float(rng.uniform(0.15, 0.85)) * W
        w = float(rng.uniform(0.06, 0.14)) * W
        canvas.quad(-1, H + 1, x, x, w, w, part, mat, rounding=0.5)
    elif kind == "low":
        top = float(rng.uniform(0.58, 0.78)) * H
        canvas.quad(top, H + 1, 0.5 * W, 0.5 * W, 3 * W, 3 * W, part, mat, rounding=0.0)
        canvas.quad(top, top + 0.03 * H, 0.5 * W, 0.5 * W, 3 * W, 3 * W, part,
                    canvas.add_colour(_triple(0.6 * c for c in col)), rounding=0.0)
    elif kind == "side":
        s = 1 if rng.random() < 0.5 else -1
        x = 0.5 * W + s * float(rng.uniform(0.42, 0.62)) * W
        canvas.quad(0.2 * H, H + 1, x, x, 0.45 * W, 0.5 * W, part, mat, rounding=0.4)
        canvas.ellipse(0.12 * H, x, 0.08 * H, 0.14 * W, part,
                       canvas.add_colour((60, 40, 30)), rounding=0.3)
    else:
        raise ValueError(f"unknown occluder {kind!r}; valid occluders: {list(OCCLUDERS)}")


def resolution_factor(camera: CameraSpec) -> float:
    """How much coarser than the ideal image a camera samples the scene: ``max(downsample,
    1 + 0.6 * blur)``. Resolution loss and defocus blur are one effect here: the camera renders
    at ``render_size / factor`` and its image is up-sampled (bilinear) to the stored size."""
    return max(float(camera.downsample), 1.0 + 0.6 * float(camera.blur))


def camera_canvas_size(camera: CameraSpec, render_size: tuple[int, int]) -> tuple[int, int]:
    """The (height, width) at which ``camera`` renders, given the ideal ``render_size``."""
    f = resolution_factor(camera)
    return max(16, int(round(render_size[0] / f))), max(8, int(round(render_size[1] / f)))


def apply_optics(
    img: Image.Image,
    out_size: tuple[int, int],
    rng: np.random.Generator,
    noise: Image.Image,
) -> Image.Image:
    """Camera optics on a lit RGB image rendered at the camera's resolution: bilinear resampling
    to ``out_size`` (height, width), which blurs what the camera sampled coarsely, then sensor
    noise cropped at a random offset from the camera's noise bank."""
    oh, ow = out_size
    if img.size != (ow, oh):
        img = img.resize((ow, oh), Image.Resampling.BILINEAR)
    i0 = int(rng.integers(0, noise.height - oh + 1))
    j0 = int(rng.integers(0, noise.width - ow + 1))
    return ImageChops.add(img, noise.crop((j0, i0, j0 + ow, i0 + oh)), 1.0, -128)


def apply_lighting(img: Image.Image, gain: float, light: float, vertical: float,
                   cast: np.ndarray, contrast: float) -> Image.Image:
    """Illumination of one image: a brightness ``gain``, a left-right (``light``) and top-bottom
    (``vertical``) gradient, an RGB ``cast`` and a ``contrast`` change about mid-grey.

    The gradient is bilinear (a 2x2 image up-sampled) and applied by a multiply; gain, cast and
    contrast go through one per-channel lookup table, all in Pillow's C code."""
    W, H = img.size
    g = np.outer(1.0 + vertical * np.array([-0.5, 0.5]), 1.0 + light * np.array([-0.5, 0.5]))
    gmax = float(g.max())
    small = np.repeat((g / gmax * 255.0 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
    img = ImageChops.multiply(img, Image.fromarray(small).resize((W, H), Image.Resampling.BILINEAR))
    v = np.arange(256, dtype=np.float32)
    k = gmax * gain * contrast * np.asarray(cast, np.float32)
    table = np.clip(v[None, :] * k[:, None] + 128.0 * (1.0 - contrast) + 0.5, 0, 255)
    return img.point(table.astype(np.uint8).ravel().tolist())
