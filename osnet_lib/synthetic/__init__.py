"""A procedural synthetic person re-ID world: the book's embedded default dataset.

Real re-ID datasets (Table 2 of the paper) cannot be shipped with the book, so every chapter
runs on this world, generated offline and deterministically, written in the Market1501 layout
and read by the same loader as real data. It is built so that the paper's claims are measurable:

- people drawn with head, hair, torso, arms, legs and shoes, whose identity lives in
  *combinations* of cues at several scales (garment colours and patterns; a chest logo visible
  from the front only, shoes, glasses, a hat; a backpack seen from behind), in confuser families
  that share every global cue and differ in one small cue (Fig. 1; :mod:`.people`);
- cameras with their own viewpoints, detector misalignment, occlusion, blur, resolution and
  noise (:mod:`.cameras`);
- four domains standing in for Market1501, DukeMTMC-reID, MSMT17 and CUHK03, differing in style
  and population, for the cross-domain protocols of Sec. 4.2 (:mod:`.domains`);
- ground truth for every image (identity, camera, view, attributes, part masks) so that gate
  clusters (Fig. 6) and activation maps (Fig. 7) can be scored (:mod:`.writer`);
- kinds of world that differ in one property, who the people are (``kind=``, see
  :data:`WORLD_KINDS` and ``book/worlds.md``): ``omni``, where identity lives only in
  combinations of cues at several scales, and ``control``, where one global cue decides it,
  each in its own folder (:func:`world_folder_name`); calibrated without a network by
  :mod:`.calibration`.

Typical use::

    from osnet_lib.synthetic import generate_world
    root = generate_world("data/synthetic", profile="cpu", num_workers=2)
    omni = generate_world(f"data/{world_folder_name('cpu', 'omni')}", profile="cpu",
                          kind="omni", num_workers=2)
"""

from .cameras import CameraSpec, build_cameras
from .domains import COLOURS, DOMAINS, DomainSpec, get_domain, list_domains
from .figures import contact_sheet, domain_sheet
from .generator import (
    DEFAULT_IMAGE_SIZE,
    GENERATOR_VERSION,
    WORLD_SIZES,
    RenderedImage,
    WorldSizes,
    generate_world,
    list_world_sizes,
    plan_domain,
    render_image,
    resolve_recipe,
    world_folder_name,
    world_size,
)
from .people import (
    CONTROL_CUE,
    GLOBAL_CUES,
    LOCAL_CUES,
    OMNI_CODE,
    OMNI_PERIODS,
    OMNI_SHAPES,
    PART_LABELS,
    PART_NAMES,
    WORLD_KINDS,
    PersonSpec,
    check_kind,
    render_person,
    sample_person,
    sample_population,
)
from .writer import (
    NAME_PATTERN,
    SPLITS,
    load_ground_truth,
    load_part_mask,
    load_part_masks,
    mask_file,
    parse_name,
)

__all__ = [
    "COLOURS",
    "CONTROL_CUE",
    "DEFAULT_IMAGE_SIZE",
    "DOMAINS",
    "GENERATOR_VERSION",
    "GLOBAL_CUES",
    "LOCAL_CUES",
    "NAME_PATTERN",
    "OMNI_CODE",
    "OMNI_PERIODS",
    "OMNI_SHAPES",
    "PART_LABELS",
    "PART_NAMES",
    "SPLITS",
    "WORLD_KINDS",
    "WORLD_SIZES",
    "CameraSpec",
    "DomainSpec",
    "PersonSpec",
    "RenderedImage",
    "WorldSizes",
    "build_cameras",
    "check_kind",
    "contact_sheet",
    "domain_sheet",
    "generate_world",
    "get_domain",
    "list_domains",
    "list_world_sizes",
    "load_ground_truth",
    "load_part_mask",
    "load_part_masks",
    "mask_file",
    "parse_name",
    "plan_domain",
    "render_image",
    "render_person",
    "resolve_recipe",
    "sample_person",
    "sample_population",
    "world_folder_name",
    "world_size",
]
