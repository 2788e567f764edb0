"""Generate the synthetic re-ID world: plan every image, render it, write it in Market1501 layout.

The world is deterministic: every image has its own ``numpy.random.Generator`` seeded from
(world seed, domain, split, identity, image), so the files are byte-identical for a seed whatever
the number of worker processes. Sizes come from the book's profile (``quick`` for CI, ``cpu`` for
the book's experiments on a laptop CPU, ``paper``), which names a world size of
:data:`WORLD_SIZES` in the one table of profiles (:func:`osnet_lib.recipes.get_profile`), and
from explicit overrides.

The split protocol follows Market1501 (Sec. 4.1): training and test identities are disjoint;
every identity is seen by at least two cameras; a test identity has one query image per camera
it appears in and its other images in the gallery; the gallery also holds distractors (pid
``0000``: background and partial detections) and junk images (pid ``-1``: badly cropped
detections), which the standard evaluation ignores.
"""

import json
import logging
import math
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from osnet_lib.recipes import get_profile

from .cameras import (
    OCCLUDERS,
    CameraSpec,
    apply_lighting,
    apply_optics,
    build_cameras,
    camera_canvas_size,
    draw_occluder,
    make_scene,
    noise_bank,
)
from .domains import DOMAINS, VIEWS, DomainSpec, get_domain, list_domains
from .people import (
    PART_LABELS,
    Canvas,
    PersonSpec,
    Placement,
    _check_size,
    check_kind,
    control_capacity,
    draw_person,
    sample_population,
)
from .writer import (
    GROUND_TRUTH_DIR,
    SPLITS,
    image_name,
    mask_file,
    save_image,
    save_masks,
    write_json,
    write_jsonl,
)

logger = logging.getLogger(__name__)

#: Bumped whenever a change alters the generated files.
GENERATOR_VERSION = "1.0"
DEFAULT_IMAGE_SIZE: tuple[int, int] = (128, 64)
_NUM_SEQUENCES = 6
_SPLIT_CODE = {"bounding_box_train": 1, "query": 2, "bounding_box_test": 3}


@dataclass(frozen=True)
class WorldSizes:
    """How many identities and images one domain has.

    ``images_per_id`` is the mean number of training images of an identity (and of gallery
    images of a test identity; queries come on top, one per camera).
    """

    num_train_ids: int
    num_test_ids: int
    images_per_id: int
    num_distractors: int
    num_junk: int


#: The world's sizes by name: how many identities and images each domain has. A book profile
#: picks one by its ``world`` (``get_profile(profile).world``, :mod:`osnet_lib.recipes`); the
#: name is recorded in world.json (as its ``profile``).
WORLD_SIZES: dict[str, dict[str, WorldSizes]] = {
    # CI: a few seconds for all four domains.
    "quick": {d: WorldSizes(20, 20, 6, 12, 6) for d in DOMAINS},
    # The book on a 2-core CPU: Market1501-like numbers of identities (Table 2).
    "cpu": {
        "market": WorldSizes(750, 750, 16, 1500, 600),
        "duke": WorldSizes(700, 700, 18, 1500, 600),
        "msmt": WorldSizes(1000, 1000, 14, 2000, 800),
        "cuhk03": WorldSizes(767, 700, 9, 500, 200),
    },
}
_OVERRIDES = ("num_ids", "num_train_ids", "num_test_ids", "images_per_id", "num_distractors",
              "num_junk", "image_size", "render_size")


@dataclass(frozen=True)
class ImageJob:
    """Everything needed to render and write one image, independent of every other image."""

    split: str
    name: str
    kind: str
    pid: int
    camera: int
    seq: int
    frame: int
    box: int
    person: PersonSpec | None
    view: str | None
    facing: int
    rng_key: tuple[int, ...]
    subtype: str | None = None
    identity: int = -1


@dataclass
class RenderedImage:
    """One rendered image: ``image`` (H, W, 3) uint8 RGB, ``mask`` (H, W) uint8 part labels
    (:data:`~osnet_lib.synthetic.PART_LABELS`) and ``info`` (view, occluder, person box...)."""

    image: np.ndarray
    mask: np.ndarray
    info: dict


# --------------------------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------------------------


def list_world_sizes() -> list[str]:
    """Names of the world sizes (keys of :data:`WORLD_SIZES`)."""
    return list(WORLD_SIZES)


def world_size(profile: str) -> str:
    """The world size that the book's ``profile`` generates: ``get_profile(profile).world``.

    Raises:
        ValueError: an unknown profile (naming the valid ones), or a profile whose world size
            is not in :data:`WORLD_SIZES`.
    """
    world = get_profile(profile).world
    if world not in WORLD_SIZES:
        raise ValueError(f"profile {profile!r} asks for world size {world!r}, which the "
                         f"generator does not have; valid world sizes: {list_world_sizes()}")
    return world


def _int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def world_folder_name(size: str, kind: str = "default") -> str:
    """The folder name of a world of ``size`` (a key of :data:`WORLD_SIZES`, e.g. ``"cpu"``,
    as ``get_profile(profile).world`` gives it) and ``kind``
    (:data:`~osnet_lib.synthetic.people.WORLD_KINDS`):
    ``synthetic-<size>`` for the default kind, ``synthetic-<size>-<kind>`` for the others
    (``synthetic-cpu-omni``), so that worlds of different kinds never share a folder. The one
    place that names world folders.

    Raises:
        ValueError: an unknown size or kind.
        TypeError: ``kind`` is not a string.
    """
    if size not in WORLD_SIZES:
        raise ValueError(f"unknown world size {size!r}; valid sizes: {list_world_sizes()}")
    kind = check_kind(kind)
    return f"synthetic-{size}" if kind == "default" else f"synthetic-{size}-{kind}"


def resolve_recipe(profile: str = "quick", seed: int = 0, domains=None, *,
                   kind: str = "default", **overrides) -> dict:
    """The full recipe of a world: its size (``"profile"``: the world size of the book's
    ``profile``, see :func:`world_size`), seed, domains, sizes, image sizes, domain and camera
    parameters and the generator version. Two calls with equal recipes produce equal files; two
    profiles with the same world size (``cpu`` and ``paper``) give the same recipe.

    ``kind`` (:data:`~osnet_lib.synthetic.people.WORLD_KINDS`) picks who the people are:
    ``"default"``, ``"omni"`` or ``"control"``. Other kinds are recorded as the recipe's
    ``"kind"``; the default kind leaves the key out, so that the default world's recipe (and
    every fingerprint made from it) is what it was before kinds existed.

    Raises:
        ValueError: unknown profile, domain or kind, bad sizes.
        TypeError: unknown override name, or a value of the wrong type.
    """
    world = world_size(profile)
    kind = check_kind(kind)
    seed = _int("seed", seed, 0)
    if domains is None:
        names = list_domains()
    else:
        if isinstance(domains, str):
            domains = [domains]
        names = []
        for d in domains:
            names.append(get_domain(d).name)
        if not names:
            raise ValueError("domains must name at least one domain")
        if len(set(names)) != len(names):
            raise ValueError(f"domains lists a domain twice: {names}")
    unknown = sorted(set(overrides) - set(_OVERRIDES))
    if unknown:
        raise TypeError(f"unknown world option(s) {unknown}; valid options: {list(_OVERRIDES)}")
    image_size = _check_size(overrides.get("image_size", DEFAULT_IMAGE_SIZE), "image_size")
    render_size = _check_size(overrides.get("render_size", image_size), "render_size")
    if render_size[0] < image_size[0] or render_size[1] < image_size[1]:
        raise ValueError(f"render_size {render_size} must be at least image_size {image_size}")
    sizes = {}
    for name in names:
        s = asdict(WORLD_SIZES[world][name])
        if "num_ids" in overrides:
            n = _int("num_ids", overrides["num_ids"], 1)
            s["num_train_ids"] = s["num_test_ids"] = n
        for key in ("num_train_ids", "num_test_ids"):
            if key in overrides:
                s[key] = _int(key, overrides[key], 1)
        if "images_per_id" in overrides:
            s["images_per_id"] = _int("images_per_id", overrides["images_per_id"], 2)
        for key in ("num_distractors", "num_junk"):
            if key in overrides:
                s[key] = _int(key, overrides[key], 0)
        most = max(s["num_train_ids"], s["num_test_ids"])
        if kind == "control" and most > control_capacity(name):
            raise ValueError(f"{name}: a control world has at most {control_capacity(name)} "
                             f"distinct garment combinations per split, got "
                             f"{most} identities")
        if s["num_train_ids"] + s["num_test_ids"] > 9999:
            total = s["num_train_ids"] + s["num_test_ids"]
            raise ValueError(f"{name}: num_train_ids + num_test_ids must be <= 9999 (4-digit "
                             f"Market1501 identities), got {total}")
        sizes[name] = s
    recipe = {
        "generator": "osnet_lib.synthetic",
        "version": GENERATOR_VERSION,
        "profile": world,
        "seed": seed,
        "domains": names,
        "image_size": list(image_size),
        "render_size": list(render_size),
        "sizes": sizes,
        "domain_params": {n: _domain_params(n, seed) for n in names},
        "part_labels": dict(PART_LABELS),
        "layout": "market1501",
    }
    if kind != "default":
        recipe["kind"] = kind
    return json.loads(json.dumps(recipe))  # the form it takes in world.json (lists, not tuples)


def _domain_params(name: str, seed: int) -> dict:
    spec = asdict(get_domain(name))
    spec["cameras"] = [c.as_dict() for c in build_cameras(name, seed)]
    return spec


def _domain_recipe(recipe: dict, name: str) -> dict:
    keys = ("generator", "version", "seed", "image_size", "render_size", "part_labels", "layout",
            "kind")
    out = {k: recipe[k] for k in keys if k in recipe}
    out.update(domain=name, sizes=recipe["sizes"][name],
               domain_params=recipe["domain_params"][name])
    return out


# --------------------------------------------------------------------------------------------
# Planning: which image shows whom, where
# --------------------------------------------------------------------------------------------


def _tracklets(rng: np.random.Generator, cams: list[CameraSpec], num_images: int,
               max_cams: int = 6) -> list[tuple[int, int, str, int, int, list[int]]]:
    """Cameras an identity walks past: (camera, seq, view, facing, box, frames) per camera."""
    C = len(cams)
    n_cams = int(rng.integers(2, min(C, max_cams) + 1)) if C > 2 else C
    n_cams = min(n_cams, max(2, num_images))
    chosen = sorted(int(c) for c in rng.choice(C, size=n_cams, replace=False))
    counts = 1 + rng.multinomial(max(0, num_images - n_cams), np.full(n_cams, 1.0 / n_cams))
    out = []
    for c, n in zip(chosen, counts):
        cam = cams[c]
        view = VIEWS[int(rng.choice(3, p=np.asarray(cam.views) / np.sum(cam.views)))]
        facing = 1 if rng.random() < 0.5 else -1
        seq = int(rng.integers(1, _NUM_SEQUENCES + 1))
        start = int(rng.integers(0, 900000))
        frames = (start + np.cumsum(rng.integers(4, 40, size=int(n)))).tolist()
        box = int(rng.integers(1, 4))
        out.append((cam.index, seq, view, facing, box, frames))
    return out


def plan_domain(domain: "str | DomainSpec", sizes: dict, seed: int,
                kind: str = "default") -> list[ImageJob]:
    """Every image of one domain, in a fixed order (see the module docstring for the protocol);
    ``kind`` picks the population (:func:`~osnet_lib.synthetic.sample_population`).

    With probability 0.15 an image of a tracklet shows another view than the tracklet's (the
    person turned), drawn from the camera's view mix.
    """
    spec = get_domain(domain)
    kind = check_kind(kind)
    di = spec.index
    cams = build_cameras(spec, seed)
    n_train, n_test = sizes["num_train_ids"], sizes["num_test_ids"]
    ipi = sizes["images_per_id"]
    train_people = sample_population(spec, n_train, np.random.default_rng([seed, di, 1]),
                                     kind=kind)
    test_people = sample_population(spec, n_test, np.random.default_rng([seed, di, 2]),
                                    first_key=n_train, kind=kind)
    pids = np.random.default_rng([seed, di, 3]).permutation(np.arange(1, n_train + n_test + 1))
    jobs: list[ImageJob] = []
    names: set[str] = set()

    def add(split, kind, pid, cam, seq, frame, box, person, view, facing, key, subtype=None,
            identity=None):
        while True:
            name = image_name(pid, cam, seq, frame % 1000000, box)
            if name not in names:
                break
            frame += 1
        names.add(name)
        jobs.append(ImageJob(split, name, kind, pid, cam, seq, frame % 1000000, box, person,
                             view, facing, key, subtype, pid if identity is None else identity))

    def maybe_turn(rng, cam_index, view):
        if rng.random() < 0.15:
            cam = cams[cam_index - 1]
            return VIEWS[int(rng.choice(3, p=np.asarray(cam.views) / np.sum(cam.views)))]
        return view

    for split_people, offset, is_train in ((train_people, 0, True), (test_people, n_train, False)):
        for i, person in enumerate(split_people):
            pid = int(pids[offset + i])
            rng = np.random.default_rng([seed, di, 4, person.key])
            n = max(2, int(round(ipi * rng.uniform(0.5, 1.5))))
            for cam, seq, view, facing, box, frames in _tracklets(rng, cams, n):
                if not is_train:
                    # one query per camera: an extra frame of the same tracklet
                    qf = frames[-1] + int(rng.integers(4, 40))
                    add("query", "identity", pid, cam, seq, qf, box, person,
                        maybe_turn(rng, cam, view), facing,
                        (seed, di, _SPLIT_CODE["query"], person.key, cam, qf))
                split = "bounding_box_train" if is_train else "bounding_box_test"
                for f in frames:
                    add(split, "identity", pid, cam, seq, f, box, person,
                        maybe_turn(rng, cam, view), facing,
                        (seed, di, _SPLIT_CODE[split], person.key, cam, f))
    # distractors (0000): background crops and partial bodies of passers-by
    rng = np.random.default_rng([seed, di, 5])
    extras = sample_population(spec, max(1, sizes["num_distractors"] // 4), rng,
                               first_key=n_train + n_test)
    for k in range(sizes["num_distractors"]):
        cam = int(rng.integers(1, spec.num_cameras + 1))
        subtype = "background" if rng.random() < 0.4 else "partial"
        passer = extras[int(rng.integers(len(extras)))] if subtype == "partial" else None
        passer_view = VIEWS[int(rng.integers(3))] if passer else None
        add("bounding_box_test", "distractor", 0, cam, int(rng.integers(1, _NUM_SEQUENCES + 1)),
            int(rng.integers(0, 1000000)), int(rng.integers(1, 9)), passer, passer_view,
            1 if rng.random() < 0.5 else -1, (seed, di, 6, k), subtype, identity=-1)
    # junk (-1): badly cropped detections of test identities
    rng = np.random.default_rng([seed, di, 7])
    for k in range(sizes["num_junk"] if test_people else 0):
        t = int(rng.integers(len(test_people)))
        person = test_people[t]
        cam = int(rng.integers(1, spec.num_cameras + 1))
        add("bounding_box_test", "junk", -1, cam, int(rng.integers(1, _NUM_SEQUENCES + 1)),
            int(rng.integers(0, 1000000)), int(rng.integers(1, 9)), person,
            VIEWS[int(rng.integers(3))], 1 if rng.random() < 0.5 else -1, (seed, di, 8, k),
            str(rng.choice(["offset", "tiny", "cut"])), identity=int(pids[n_train + t]))
    return jobs


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


class _Renderer:
    """Per-process cache of a domain's cameras, background scenes and noise bank."""

    def __init__(self, domain: DomainSpec, seed: int, image_size: tuple[int, int],
                 render_size: tuple[int, int]) -> None:
        self.domain = domain
        self.seed = seed
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.render_size = (int(render_size[0]), int(render_size[1]))
        self.cameras = build_cameras(domain, seed)
        self._scenes: dict[int, np.ndarray] = {}
        self._noise: dict[int, Image.Image] = {}

    def scene(self, camera: int) -> np.ndarray:
        if camera not in self._scenes:
            size = camera_canvas_size(self.cameras[camera - 1], self.render_size)
            self._scenes[camera] = make_scene(self.domain, camera, size, self.seed)
        return self._scenes[camera]

    def noise(self, camera: int) -> Image.Image:
        if camera not in self._noise:
            self._noise[camera] = noise_bank(self.cameras[camera - 1], self.seed,
                                             self.domain.index, self.image_size)
        return self._noise[camera]

    def render(self, rng: np.random.Generator, kind: str, person: PersonSpec | None,
               camera: int, view: str | None, facing: int, frame: int,
               subtype: str | None = None) -> tuple[Image.Image, np.ndarray, dict]:
        """Render one image: (PIL RGB image at ``image_size``, part mask, info)."""
        cam = self.cameras[camera - 1]
        H, W = camera_canvas_size(cam, self.render_size)
        sc = self.scene(camera)
        i0 = int(rng.integers(0, sc.shape[0] - H + 1))
        j0 = int(rng.integers(0, sc.shape[1] - W + 1))
        canvas = Canvas(H, W, sc[i0:i0 + H, j0:j0 + W])
        info: dict = {"view": view, "facing": facing, "occluder": None, "person_box": None}
        if person is not None:
            if view is None:
                raise ValueError(f"a {kind} image of a person needs a view")
            scale = float(rng.uniform(*cam.scale))
            dx = float(rng.normal(0.0, cam.shift[0])) * W
            dy = float(rng.normal(0.0, cam.shift[1])) * H
            h = scale * H
            feet = 0.5 * (H + h) + dy
            cx = 0.5 * W + dx
            if kind == "junk":
                if subtype == "offset":
                    cx += (1 if rng.random() < 0.5 else -1) * float(rng.uniform(0.4, 0.6)) * W
                elif subtype == "tiny":
                    h *= float(rng.uniform(0.3, 0.45))
                    feet = float(rng.uniform(h + 2, H))
                else:
                    feet += (1 if rng.random() < 0.5 else -1) * float(rng.uniform(0.35, 0.55)) * H
            elif kind == "distractor":  # partial detection: a zoomed-in part of a body
                h *= float(rng.uniform(1.6, 2.6))
                feet = float(rng.uniform(0.55, 1.9)) * h
                cx += float(rng.normal(0.0, 0.25)) * W
            phase = 2.0 * math.pi * frame / 22.0 + 0.7 * person.key
            side = view == "side"
            place = Placement(
                view=view, facing=facing, h=h, cx=cx, feet_y=feet,
                swing=float(math.sin(phase)) * (1.0 if side else 0.5),
                stride=float(math.sin(phase)) * (1.0 if side else 0.4),
                lean=float(rng.normal(0.0, 0.012)) * h,
            )
            jitter = np.exp(rng.normal(0.0, 0.06, size=(10, 3))).astype(np.float32)
            draw_person(canvas, person, place, jitter)
            top = feet - h * person.height
            info["person_box"] = [round(max(0.0, top), 2), round(max(0.0, cx - 0.2 * h), 2),
                                  round(min(float(H), feet), 2),
                                  round(min(float(W), cx + 0.2 * h), 2)]
        if kind != "distractor" or subtype == "background":
            if rng.random() < (cam.occlusion if kind != "distractor" else 0.5):
                occ = OCCLUDERS[int(rng.choice(3, p=[0.3, 0.4, 0.3]))]
                draw_occluder(canvas, occ, rng)
                info["occluder"] = occ
        # lighting: gain with vertical and horizontal gradients, colour cast, contrast
        gain = cam.gain * float(np.exp(rng.normal(0.0, 0.12)))
        light = cam.light + float(rng.normal(0.0, 0.1))
        vertical = float(rng.uniform(-0.25, 0.25))
        cast = np.asarray(cam.cast, np.float32) * np.exp(rng.normal(0.0, 0.04, 3))
        pil = apply_lighting(Image.fromarray(canvas.image), gain, light, vertical, cast,
                             self.domain.contrast)
        pil = apply_optics(pil, self.image_size, rng, self.noise(camera))
        mask = canvas.label
        if (H, W) != self.image_size:
            mask = np.asarray(Image.fromarray(mask).resize(
                (self.image_size[1], self.image_size[0]), Image.Resampling.NEAREST))
        counts = np.bincount(mask.ravel(), minlength=len(PART_LABELS))
        info["parts"] = {n: int(counts[i]) for n, i in PART_LABELS.items() if counts[i] and i}
        if info["person_box"] is not None and (H, W) != self.image_size:
            sy, sx = self.image_size[0] / H, self.image_size[1] / W
            b = info["person_box"]
            info["person_box"] = [round(b[0] * sy, 2), round(b[1] * sx, 2), round(b[2] * sy, 2),
                                  round(b[3] * sx, 2)]
        return pil, np.ascontiguousarray(mask), info


@lru_cache(maxsize=8)
def _cached_renderer(domain: str, world_seed: int, size: tuple[int, int],
                     render_size: tuple[int, int]) -> "_Renderer":
    return _Renderer(get_domain(domain), world_seed, size, render_size)


def render_image(
    person: PersonSpec | None,
    domain: "str | DomainSpec" = "market",
    camera: int = 1,
    *,
    view: str | None = None,
    facing: int = 1,
    seed: int = 0,
    world_seed: int = 0,
    size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    render_size: tuple[int, int] | None = None,
) -> RenderedImage:
    """Render one image of ``person`` as camera ``camera`` of ``domain`` sees it, in memory.

    The same pipeline as :func:`generate_world`: placement and misalignment, pose, occluder,
    background of that camera, lighting and colour cast, resolution loss, blur and noise.
    ``view`` defaults to a draw from the camera's view mix; ``seed`` varies the image,
    ``world_seed`` the cameras. ``person=None`` renders an empty background crop.

    Raises:
        ValueError: unknown domain or view, camera out of range, bad sizes.
    """
    spec = get_domain(domain)
    if not isinstance(camera, (int, np.integer)) or not 1 <= camera <= spec.num_cameras:
        raise ValueError(f"camera must be in 1..{spec.num_cameras} for domain {spec.name!r}, "
                         f"got {camera!r}")
    if view is not None and view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; valid views: {list(VIEWS)}")
    size = _check_size(size, "size")
    rsize = _check_size(render_size if render_size is not None else size, "render_size")
    r = _cached_renderer(spec.name, int(world_seed), size, rsize)
    rng = np.random.default_rng([int(seed), spec.index, 9, int(camera)])
    if view is None:
        cam = r.cameras[camera - 1]
        view = VIEWS[int(rng.choice(3, p=np.asarray(cam.views) / np.sum(cam.views)))]
    kind = "identity" if person is not None else "distractor"
    pil, mask, info = r.render(rng, kind, person, int(camera), view if person else None, facing,
                               int(rng.integers(0, 1000)), None if person else "background")
    return RenderedImage(image=np.asarray(pil).copy(), mask=mask, info=info)


# --------------------------------------------------------------------------------------------
# Writing a world
# --------------------------------------------------------------------------------------------


def _job_record(job: ImageJob, info: dict) -> dict:
    p = job.person
    return {
        "image": f"{job.split}/{job.name}",
        "mask_file": f"{GROUND_TRUTH_DIR}/{mask_file(job.split)}",
        "split": job.split,
        "pid": job.pid,
        "camid": job.camera,
        "seq": job.seq,
        "frame": job.frame,
        "box": job.box,
        "kind": job.kind,
        "subtype": job.subtype,
        "identity": job.identity,
        "source_key": None if p is None else p.key,
        "family": None if p is None else p.family,
        "attributes": None if p is None else p.attributes(),
        **info,
    }


def _render_chunk(args) -> list[tuple[dict, np.ndarray]]:
    """Worker: render a chunk of jobs of one domain and write their images; return their
    records and part masks."""
    spec_name, seed, image_size, render_size, out_dir, jobs = args
    r = _Renderer(get_domain(spec_name), seed, image_size, render_size)
    out = Path(out_dir)
    records = []
    for job in jobs:
        rng = np.random.default_rng(list(job.rng_key))
        pil, mask, info = r.render(rng, job.kind, job.person, job.camera, job.view, job.facing,
                                   job.frame, job.subtype)
        save_image(out / job.split / job.name, pil, r.cameras[job.camera - 1].jpeg_quality)
        records.append((_job_record(job, info), mask))
    return records


def _split_stats(records: list[dict]) -> dict:
    pids = {r["pid"] for r in records if r["pid"] > 0}
    return {
        "num_images": len(records),
        "num_ids": len(pids),
        "num_cameras": len({r["camid"] for r in records}),
        "num_distractors": sum(r["kind"] == "distractor" for r in records),
        "num_junk": sum(r["kind"] == "junk" for r in records),
    }


def _check_root(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"world root {str(root)!r} exists and is not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=root)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise PermissionError(f"world root {str(root)!r} is not writable: {e}") from None


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def generate_world(
    root: "str | Path",
    profile: str = "quick",
    seed: int = 0,
    domains=None,
    num_workers: int = 1,
    *,
    kind: str = "default",
    progress: bool = True,
    **overrides,
) -> Path:
    """Generate (or reuse) a synthetic world under ``root`` and return ``root`` as a Path.

    Each domain goes to ``<root>/<domain>/`` in Market1501 layout with its ground truth in
    ``<root>/<domain>/ground_truth/`` (see :mod:`osnet_lib.synthetic.writer`); ``world.json`` at
    ``root`` records the recipe. Idempotent: a domain whose recorded recipe equals the requested
    one is kept as it is. Output is byte-identical for a seed, whatever ``num_workers``.

    Args:
        root: folder of the world (created if needed).
        profile: the book's profile, ``"quick"`` (CI, seconds), ``"cpu"`` (the book's
            experiments) or ``"paper"``; it picks the world size :func:`world_size`.
        seed: world seed.
        domains: names of the domains to generate (default: all, see ``list_domains()``).
        num_workers: processes used to render (1 = in this process).
        kind: who the people are (``"default"``, ``"omni"``, ``"control"``; see
            :data:`~osnet_lib.synthetic.people.WORLD_KINDS` and :func:`resolve_recipe`). Give
            each kind its own ``root`` (:func:`world_folder_name`).
        progress: show a tqdm progress bar per domain.
        **overrides: ``num_ids`` (train and test), ``num_train_ids``, ``num_test_ids``,
            ``images_per_id``, ``num_distractors``, ``num_junk``, ``image_size`` and
            ``render_size`` (``(height, width)``; rendering happens at ``render_size`` and is
            resized to ``image_size``).

    Raises:
        ValueError / TypeError: unknown profile, domain, kind or option, bad sizes.
        NotADirectoryError / PermissionError: ``root`` is a file or cannot be written.
        FileExistsError: ``<root>/<domain>`` exists but is not a generated domain.
    """
    recipe = resolve_recipe(profile, seed, domains, kind=kind, **overrides)
    num_workers = _int("num_workers", num_workers, 1)
    root = Path(root)
    _check_root(root)
    world_file = root / "world.json"
    todo = []
    for name in recipe["domains"]:
        ddir = root / name
        current = _read_json(ddir / GROUND_TRUTH_DIR / "domain.json")
        if current is not None and current.get("recipe") == _domain_recipe(recipe, name):
            continue
        if ddir.exists() and current is None:
            raise FileExistsError(f"{str(ddir)!r} exists and is not a generated synthetic domain; "
                                  f"move it away or choose another root")
        todo.append(name)
    stats = {}
    old = _read_json(world_file)
    if old is not None and not todo and old.get("recipe") == recipe:
        logger.info("synthetic world at %s is up to date", root)
        return root
    for name in recipe["domains"]:
        if name not in todo:
            domain = _read_json(root / name / GROUND_TRUTH_DIR / "domain.json")
            if domain is None:
                raise FileNotFoundError(f"{root / name} lacks its {GROUND_TRUTH_DIR}/domain.json")
            stats[name] = domain["stats"]
            continue
        stats[name] = _generate_domain(root, recipe, name, num_workers, progress)
    write_json(world_file, {"recipe": recipe, "stats": stats})
    return root


def _generate_domain(root: Path, recipe: dict, name: str, num_workers: int,
                     progress: bool = True) -> dict:
    spec = get_domain(name)
    seed = recipe["seed"]
    image_size: tuple[int, int] = (int(recipe["image_size"][0]), int(recipe["image_size"][1]))
    render_size: tuple[int, int] = (int(recipe["render_size"][0]), int(recipe["render_size"][1]))
    jobs = plan_domain(spec, recipe["sizes"][name], seed, recipe.get("kind", "default"))
    for stale in root.glob(f".{name}.partial-*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=root))
    try:
        tmp.chmod(0o755)
        for split in SPLITS:
            (tmp / split).mkdir()
        (tmp / GROUND_TRUTH_DIR).mkdir()
        chunk = 200
        chunks = [(name, seed, image_size, render_size, str(tmp), jobs[i:i + chunk])
                  for i in range(0, len(jobs), chunk)]
        records: list[tuple[dict, np.ndarray]] = []
        bar = tqdm(total=len(jobs), desc=f"synthetic {name}", unit="img", leave=False,
                   disable=not progress)
        if num_workers == 1:
            for c in chunks:
                records.extend(_render_chunk(c))
                bar.update(len(c[-1]))
        else:
            # fork where the platform has it (no main-module guard needed in scripts/notebooks)
            method = "fork" if "fork" in get_all_start_methods() else "spawn"
            with ProcessPoolExecutor(num_workers, mp_context=get_context(method)) as ex:
                for c, rendered in zip(chunks, ex.map(_render_chunk, chunks)):
                    records.extend(rendered)
                    bar.update(len(c[-1]))
        bar.close()
        stats = {}
        for s in SPLITS:
            mine = sorted((rm for rm in records if rm[0]["split"] == s),
                          key=lambda rm: rm[0]["image"])
            recs = [r for r, _ in mine]
            for i, r in enumerate(recs):
                r["mask_index"] = i
            write_jsonl(tmp / GROUND_TRUTH_DIR / f"{s}.jsonl", recs)
            masks = (np.stack([m for _, m in mine]) if mine
                     else np.zeros((0, *image_size), dtype=np.uint8))
            save_masks(tmp / GROUND_TRUTH_DIR / mask_file(s), [r["image"] for r in recs], masks)
            stats[s] = _split_stats(recs)
        write_json(tmp / GROUND_TRUTH_DIR / "domain.json",
                   {"recipe": _domain_recipe(recipe, name), "stats": stats,
                    "stands_for": spec.stands_for})
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("synthetic domain %s: %s", name, stats)
    return stats
