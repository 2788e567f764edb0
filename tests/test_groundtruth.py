"""Scoring networks against the synthetic world's ground truth (Figs. 6 and 7): cue masks,
confuser pairs, the annotated test set; and the measurement helpers of viz that use them."""

import numpy as np
import pytest
import torch

from osnet_lib import build_model
from osnet_lib.data import build_dataset
from osnet_lib.groundtruth import (
    CUES,
    confuser_pairs,
    cue_mask,
    differing_cues,
    load_annotated,
    part_mask,
    telling_cues,
)
from osnet_lib.synthetic import OMNI_CODE, PART_LABELS, generate_world, load_ground_truth
from osnet_lib.viz import (
    activation_maps,
    cluster_purity,
    embed_images,
    gate_descriptors,
    majority_hits,
    untrained_like,
)

SMALL = dict(num_ids=8, images_per_id=4, num_distractors=3, num_junk=2)


@pytest.fixture(scope="module")
def omni(tmp_path_factory):
    root = generate_world(tmp_path_factory.mktemp("omni"), profile="quick", seed=0,
                          domains=["cuhk03"], kind="omni", progress=False, **SMALL)
    return root / "cuhk03"


def test_part_and_cue_masks():
    labels = np.zeros((4, 4), dtype=np.uint8)
    labels[0, 0] = PART_LABELS["logo"]
    labels[1, :] = PART_LABELS["torso"]
    labels[3, 3] = PART_LABELS["head"]
    assert part_mask(labels, ["torso", "head"]).sum() == 5
    # the chest logo shows in front views only, the back print (same label) in back views only
    assert cue_mask(labels, ["logo"], "front").sum() == 1
    assert cue_mask(labels, ["logo"], "back").sum() == 0
    assert cue_mask(labels, ["back_mark"], "back").sum() == 1
    assert cue_mask(labels, ["stripe_period", "logo"], "side").sum() == 4
    with pytest.raises(ValueError, match="unknown cue"):
        cue_mask(labels, ["tattoo"], "front")
    with pytest.raises(ValueError, match="unknown view"):
        cue_mask(labels, ["logo"], "top")
    with pytest.raises(ValueError, match="unknown part"):
        part_mask(labels, ["tail"])


def _record(pid, family, kind="identity", **attrs):
    base = {"logo_shape": "ring", "logo_colour": "red", "stripe_period": 0.04,
            "back_mark": "cross", "family": family}
    return {"identity": pid, "kind": kind, "attributes": {**base, **attrs}}


def test_confuser_pairs_name_the_cues_that_differ():
    records = [
        _record(1, 0), _record(1, 0),                       # two images of one identity
        _record(2, 0, logo_shape="cross", back_mark="ring"),
        _record(3, 0, stripe_period=0.07, back_mark="ring"),
        _record(4, 1),                                      # alone in its family
        _record(5, 1, kind="distractor", logo_shape="diamond"),
    ]
    pairs = confuser_pairs(records)
    assert [(p.family, p.identities, p.cues) for p in pairs] == [
        (0, (1, 2), ("logo", "back_mark")),
        (0, (1, 3), ("back_mark", "stripe_period")),
        (0, (2, 3), ("logo", "stripe_period")),
    ]
    told = telling_cues(records)
    assert told[1] == ("logo", "back_mark", "stripe_period") and told[4] == ()
    assert 5 not in told
    assert differing_cues({"hat": None}, {}) == ()


def test_omni_families_differ_in_two_cues_any_pair(omni):
    """The omni world's code (OMNI_CODE): every two members of a family differ in exactly two
    of the three cues, read back from the ground truth."""
    records = load_ground_truth(omni, "query") + load_ground_truth(omni, "gallery")
    pairs = confuser_pairs(records)
    assert pairs and all(len(p.cues) == 2 for p in pairs)
    assert {c for p in pairs for c in p.cues} <= {"logo", "back_mark", "stripe_period"}
    assert max(len({i for p in pairs if p.family == f for i in p.identities})
               for f in {p.family for p in pairs}) <= len(OMNI_CODE)


def test_load_annotated_aligns_images_records_and_masks(omni):
    dataset = build_dataset("synthetic", omni.parent, domain="cuhk03")
    data = load_annotated(dataset, 64, 32)
    assert data.images.shape[1:] == (3, 64, 32) and len(data) == len(data.masks)
    assert all(r["kind"] == "identity" for r in data.records)
    n_identity = sum(r.pid > 0 for r in list(dataset.query) + list(dataset.gallery))
    assert len(data) == n_identity
    # the same images in the dataset's order (query first, then gallery)
    paths = [r.path for r in list(dataset.query) + list(dataset.gallery) if r.pid > 0]
    assert [str(omni / r["image"]) for r in data.records] == paths
    # each mask is the image's own: its person pixels match the record's part counts
    for rec, mask in zip(data.records[:5], data.masks[:5], strict=True):
        for part, count in rec["parts"].items():
            assert (mask == PART_LABELS[part]).sum() == count
    assert set(data.attribute("view")) <= {"front", "back", "side"}
    with pytest.raises(ValueError, match="neither"):
        data.attribute("shoe_size")


def test_majority_hits_is_the_per_image_purity():
    labels = np.array([0, 0, 0, 1, 1, 2])
    values = np.array(["a", "a", "b", "c", "d", "e"])
    hits = majority_hits(labels, values)
    # cluster 1 ties between c and d: the smaller value wins
    assert hits.tolist() == [True, True, False, True, False, True]
    assert cluster_purity(labels, values) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="differ in shape"):
        majority_hits(labels, values[:3])


def test_untrained_like_rebuilds_the_architecture_with_its_seed():
    trained = build_model("osnet_x0_25", T=1)
    a, b, c = untrained_like(trained, 3), untrained_like(trained, 3), untrained_like(trained, 4)
    assert a.block_options == trained.block_options and a.classifier is None
    assert not a.training
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == {k for k in trained.state_dict() if not k.startswith("classifier.")}
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["conv1.conv.weight"], sc["conv1.conv.weight"])
    state = torch.random.get_rng_state()
    untrained_like(trained, 5)
    assert torch.equal(state, torch.random.get_rng_state())
    with pytest.raises(TypeError, match="seed"):
        untrained_like(trained, 1.5)


def test_batched_extraction_equals_one_batch():
    torch.manual_seed(0)
    net = build_model("osnet_x0_25").eval()
    x = torch.randn(5, 3, 64, 32)
    torch.testing.assert_close(activation_maps(net, x, batch_size=2),
                               activation_maps(net, x, batch_size=5))
    assert activation_maps(net, x, size=(128, 64)).shape == (5, 128, 64)
    np.testing.assert_allclose(embed_images(net, x, batch_size=2), net.embed(x).numpy(),
                               rtol=1e-5, atol=1e-6)
    assert gate_descriptors(net, x, batch_size=3).shape == (5, 128)
    with pytest.raises(ValueError, match="batch_size"):
        embed_images(net, x, batch_size=0)


def test_cues_name_existing_parts():
    assert all(p in PART_LABELS for cue in CUES.values() for p in cue.parts)
