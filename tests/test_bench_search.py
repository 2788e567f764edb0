"""The OSNet-AIN experiment script (benchmarks/bench_search.py) end to end, at the quick profile
on four tiny domains."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from conftest import write_tiny_market

from osnet_lib.models import Genotype
from osnet_lib.search import select_run

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_search.py"


def _script():
    spec = importlib.util.spec_from_file_location("bench_search", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("world")
    for seed, domain in enumerate(("msmt", "cuhk03", "market", "duke")):
        write_tiny_market(root / domain, seed=seed)
    return root


def _run(monkeypatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["bench_search.py", *argv])
    return _script().main()


def test_search_then_arms_then_summary(world, tmp_path, monkeypatch, capsys):
    common = ("--data-root", str(world), "--profile", "quick", "--output", str(tmp_path),
              "--num-workers", "0", "--quiet")
    # the searched arm needs the search first
    with pytest.raises(SystemExit, match="run the search step first"):
        _run(monkeypatch, *common, "--steps", "arms", "--arms", "searched")
    assert _run(monkeypatch, *common, "--steps", "search", "--seeds", "0", "1") == 0
    assert _run(monkeypatch, *common, "--steps", "arms", "summary") == 0
    # a second seed of one arm; the summary averages over the seeds an arm has
    assert _run(monkeypatch, *common, "--steps", "arms", "summary", "--arms", "osnet",
                "--arm-seeds", "1") == 0

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (tmp_path / "arch_history.png").stat().st_size > 0
    search = json.loads((tmp_path / "search" / "search.json").read_text())
    runs = search["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    assert summary["selected_seed"] == runs[select_run(runs, "synthetic:domain=cuhk03")]["seed"]
    assert summary["genotype"] == search["genotype"]
    first = summary["search_runs"][0]
    assert len(first["arch_history"]) == len(first["temperatures"]) == 2  # quick: 2 epochs
    assert set(runs[0]["metrics"]) == {f"synthetic:domain={d}" for d in ("cuhk03", "market",
                                                                          "duke")}

    arms = summary["arms"]
    assert set(arms) == {"osnet", "osnet_ibn", "searched", "osnet_ain"}
    assert all(set(a["metrics"]) == {"synthetic:domain=market", "synthetic:domain=duke"}
               for a in arms.values())
    assert arms["osnet"]["model"] == "osnet_x0_25" and arms["osnet"]["model_options"] == {}
    assert arms["osnet"]["seeds"] == [0, 1] and arms["osnet_ibn"]["seeds"] == [0]
    market = "synthetic:domain=market"
    per_seed = [r["metrics"][market]["rank1"] for r in arms["osnet"]["runs"]]
    assert arms["osnet"]["metrics"][market]["rank1"] == pytest.approx(sum(per_seed) / 2)
    assert arms["osnet_ain"]["model"] == "osnet_ain_x0_25"
    assert Genotype.from_dict(arms["searched"]["model_options"]["genotype"]) == \
        Genotype.from_dict(search["genotype"])
    results = json.loads((tmp_path / "arms" / "osnet_ibn" / "seed0" / "results.json").read_text())
    assert results["provenance"]["recipe"]["name"] == "cross_domain"
    assert results["provenance"]["recipe"]["fixbase_epochs"] == 0  # no ImageNet weights
    out = capsys.readouterr().out
    assert "selected seed" in out and "osnet_ibn" in out


def test_domains_must_differ(world, tmp_path, monkeypatch):
    with pytest.raises(SystemExit):
        _run(monkeypatch, "--data-root", str(world), "--output", str(tmp_path),
             "--targets", "cuhk03", "duke")
