"""One place for the synthetic world: ``build_dataset("synthetic", root, world=...)`` resolves
``<root>/synthetic-<world>``, the folder the book, the command line and the README all use."""

from pathlib import Path

import pytest

from osnet_lib.data import build_dataset, synthetic_world_dir
from osnet_lib.recipes import get_profile
from osnet_lib.synthetic import generate_world


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    generate_world(root / "synthetic-quick", profile="quick", seed=0, domains=["market"],
                   progress=False)
    return root


def test_world_names_the_folder_under_the_data_root(data_root):
    by_world = build_dataset("synthetic", data_root, world="quick", domain="market")
    explicit = build_dataset("synthetic", data_root / "synthetic-quick", domain="market")
    assert by_world.query and [r.path for r in by_world.query] == [r.path for r in explicit.query]
    world_dir = synthetic_world_dir(data_root, get_profile("quick").world)
    assert world_dir == data_root / "synthetic-quick"


def test_world_errors_name_the_fix(data_root):
    with pytest.raises(ValueError, match="'huge'.*cpu.*quick"):
        build_dataset("synthetic", data_root, world="huge")
    with pytest.raises(FileNotFoundError, match="synthetic-cpu.*make_synthetic.py.*--profile cpu"):
        build_dataset("synthetic", data_root, world="cpu")
