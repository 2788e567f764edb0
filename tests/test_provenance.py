"""Provenance records and atomic writes."""

import json
import re

import numpy as np
import pytest

from osnet_lib.provenance import (
    PROFILES,
    atomic_write,
    check_profile,
    git_commit,
    provenance,
    write_json_atomic,
)


def test_profiles():
    assert PROFILES == ("quick", "cpu", "paper")
    assert check_profile("cpu") == "cpu"
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        check_profile("fast")


def test_provenance_records_what_a_result_needs(tmp_path):
    p = provenance({"lr": 0.1}, seed=3, note="x")
    assert p["recipe"] == {"lr": 0.1} and p["seed"] == 3 and p["note"] == "x"
    assert {"torch", "python", "osnet_lib", "cpu_count"} <= set(p["environment"])
    commit = git_commit()
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", commit)
    assert git_commit(tmp_path) is None  # outside a checkout: None, never an exception


def test_json_is_written_atomically(tmp_path):
    path = write_json_atomic(tmp_path / "sub" / "r.json", {"a": np.arange(3), "b": (1, 2)})
    assert json.loads(path.read_text()) == {"a": [0, 1, 2], "b": [1, 2]}

    def broken(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert json.loads(path.read_text())["a"] == [0, 1, 2]  # the old file is intact
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary left
    with pytest.raises(TypeError, match="cannot write object"):
        write_json_atomic(tmp_path / "bad.json", {"x": object()})


def test_profile_table_is_the_one_home_of_profiles():
    from osnet_lib.recipes import PROFILE_TABLE, get_profile, get_recipe

    assert tuple(PROFILE_TABLE) == PROFILES
    for name in PROFILES:
        p = get_profile(name)
        assert p.name == name
        recipe = get_recipe("scratch", name)
        if p.height is not None:
            assert (recipe.height, recipe.width) == (p.height, p.width)
        if p.epochs is not None:
            assert recipe.epochs == p.epochs["scratch"]
    assert get_recipe("scratch", "paper").epochs == 350
    with pytest.raises(ValueError, match="unknown profile 'laptop'"):
        get_profile("laptop")


def test_exclusive_lock_refuses_a_second_holder(tmp_path):
    import multiprocessing as mp

    from osnet_lib.provenance import FolderLockedError, exclusive_lock

    with exclusive_lock(tmp_path / "run"):
        # another process cannot take it (flock is per open file, so test across processes)
        ctx = mp.get_context("spawn")
        with ctx.Pool(1) as pool:
            message = pool.apply(_try_lock, (str(tmp_path / "run"),))
        assert "in use by process" in message
    # released at exit: it can be taken again
    with ctx.Pool(1) as pool:
        assert pool.apply(_try_lock, (str(tmp_path / "run"),)) == "acquired"
    assert not issubclass(FolderLockedError, ValueError)  # a state of the world, not bad input


def _try_lock(folder: str) -> str:
    from osnet_lib.provenance import FolderLockedError, exclusive_lock

    try:
        with exclusive_lock(folder):
            return "acquired"
    except FolderLockedError as e:
        return str(e)
