"""The Bergstra & Bengio study (experiments/bergstra): its specs are valid and comparable, its shipped tables
are the ones its provenance names, one command regenerates its figures and numbers from them, the numbers its
README quotes are those, and its trials repeat bit for bit on one machine."""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from searchsvc.sweep.space import Choice
from searchsvc.sweep.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "experiments" / "bergstra"
TABLES = STUDY / "tables"
SPECS = sorted(STUDY.glob("*.yaml")) + sorted((STUDY / "gpu").glob("*.yaml"))
SWEEPS = ("random", "grid", "sobol")
#: a value the study README quotes: <!--r path/in/results.json-->text<!--/r-->
MARK = re.compile(r"<!--r ([^>]+?)-->(.*?)<!--/r-->")


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(STUDY)))
def test_study_specs_are_valid(path: Path) -> None:
    spec = load_spec(path)
    assert spec.trials >= 1 and spec.space


@pytest.mark.parametrize("folder", [STUDY, STUDY / "gpu"], ids=["cpu", "gpu"])
def test_the_three_sweeps_share_data_budget_and_space(folder: Path) -> None:
    random, grid, sobol = (load_spec(folder / f"{name}.yaml") for name in SWEEPS)
    assert (random.strategy, grid.strategy, sobol.strategy) == SWEEPS
    for other in (grid, sobol):
        assert (other.dataset, other.training, other.objective, other.resources) == \
               (random.dataset, random.training, random.objective, random.resources)
    assert sobol.space == random.space and sobol.trials == random.trials
    for name, axis in grid.space.items():  # every grid value lies in the random search's range or choices
        assert isinstance(axis, Choice) or axis == random.space[name], name
        wide = random.space[name]
        for value in axis.grid(grid.grid_points):
            assert value in wide.values if isinstance(wide, Choice) else wide.low <= value <= wide.high, (name, value)


def test_provenance_names_the_shipped_tables() -> None:
    provenance = json.loads((TABLES / "provenance.json").read_text())
    assert not provenance["git_dirty"]
    for name in SWEEPS:
        sweep, path = provenance["sweeps"][name], TABLES / f"{name}.csv"
        assert sweep["table_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert sweep["spec_sha256"] == hashlib.sha256((ROOT / sweep["spec"]).read_bytes()).hexdigest()
        table = pd.read_csv(path)
        assert sweep["counts"] == table["status"].value_counts().to_dict()
        assert sweep["sum_train_seconds"] == pytest.approx(table["train_seconds"].sum(), abs=0.05)
        assert len(table) == load_spec(ROOT / sweep["spec"]).trials


def test_the_early_termination_sweep_is_the_random_spec_with_every_curve() -> None:
    early = STUDY / "early"
    sweep = json.loads((early / "provenance.json").read_text())["sweeps"]["random"]
    path = early / "random.csv"
    assert sweep["table_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sweep["spec_sha256"] == hashlib.sha256((STUDY / "random.yaml").read_bytes()).hexdigest()
    table, curves = pd.read_csv(path), pd.read_csv(early / "random.curves.csv")
    assert sweep["counts"] == table["status"].value_counts().to_dict()
    assert len(table) == load_spec(STUDY / "random.yaml").trials
    last = curves.groupby("trial_index")["epoch"].agg(["min", "max", "count"])
    assert set(last.index) == set(table["trial_index"]) and (last["min"] == 1).all() and (last["max"] == last["count"]).all()
    best = curves.loc[curves.groupby("trial_index")["val_score"].idxmax()].set_index("trial_index")["val_score"]
    assert np.allclose(best.loc[table["trial_index"]].to_numpy(), table["val_score"].to_numpy())


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> dict:
    """What ``python -m experiments.bergstra.regenerate`` writes from the shipped tables (run once)."""
    out = tmp_path_factory.mktemp("bergstra")
    subprocess.run([sys.executable, "-m", "experiments.bergstra.regenerate", "--out", str(out)], cwd=ROOT, check=True,
                   capture_output=True, text=True)
    return {"out": out, "results": json.loads((out / "results.json").read_text())}


def test_regenerate_writes_the_figures_and_the_shipped_numbers(regenerated) -> None:
    out = regenerated["out"]
    from experiments.bergstra.regenerate import FIGURES

    for stem in FIGURES:
        assert (out / "figures" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shipped = json.loads((STUDY / "results.json").read_text())
    _assert_same(regenerated["results"], shipped, "results.json")


@pytest.mark.parametrize("readme", [STUDY / "README.md", ROOT / "README.md"], ids=["study", "top-level"])
def test_the_readmes_quote_the_regenerated_numbers(regenerated, readme: Path) -> None:
    marks = MARK.findall(readme.read_text())
    assert len(marks) >= (20 if readme.parent == STUDY else 2), f"{readme} marks the numbers it quotes"
    for path, quoted in marks:
        value = regenerated["results"]
        for key in path.split("/"):
            value = value[int(key)] if isinstance(value, list) else value[key]
        assert _matches(quoted, value), f"README quotes {quoted!r} for {path}, the analysis gives {value!r}"


def train_sweep_trial(spec_path: Path, k: int):
    """``(TrialResult, params)`` of trial ``k`` of the spec, trained in this process as a sweep's worker
    trains it (its config and seed from searchsvc.sweep.sampling, one thread, the CPU)."""
    from experiments.datasets import load_dataset
    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import train_trial
    from searchsvc.home import datasets_dir
    from searchsvc.sweep.sampling import trial_config, trial_seed

    spec = load_spec(spec_path)
    params = trial_config(spec.space, spec.strategy, spec.seed, k, spec.grid_points)
    data = load_dataset(spec.dataset, datasets_dir())
    result = train_trial(LSTMConfig.from_params(params), data, spec.training, spec.metric, trial_seed(spec.seed, k),
                         threads=1, device="cpu")
    return result, params


def same_machine_type() -> bool:
    """Whether this machine is of the type the tables came from (CPU model and torch)."""
    import torch

    from experiments.bergstra.run import cpu_model

    provenance = json.loads((TABLES / "provenance.json").read_text())
    return (cpu_model(), torch.__version__) == (provenance["machine"]["cpu"], provenance["versions"]["torch"])


def test_trials_repeat_bit_for_bit_on_one_machine() -> None:
    """Two cheap trials of the random sweep (one that learned, one that did not), each trained twice in this
    process as a sweep's worker trains it; where this machine is the one the tables came from (CPU model and
    torch), also the shipped scores."""
    shipped = pd.read_csv(TABLES / "random.csv").set_index("trial_index")
    learned = shipped[shipped["val_score"] > 0.5]
    picks = [int(learned["train_seconds"].idxmin()), int(shipped["train_seconds"].idxmin())]
    runs = [[train_sweep_trial(STUDY / "random.yaml", k)[0] for k in picks] for _ in range(2)]
    first, second = ([(r.status, r.val_score, r.test_score, r.epochs, r.best_epoch) for r in run] for run in runs)
    assert first == second
    if not same_machine_type():
        pytest.skip("not the machine type the tables came from: scores may differ in the last bits there")
    assert [(s, v, t) for s, v, t, _, _ in first] == \
           [tuple(shipped.loc[k, ["status", "val_score", "test_score"]]) for k in picks]


def _matches(quoted: str, value: object) -> bool:
    """A quoted text stands for a value: never/None, yes/no, a list joined by ' > ', a number rounded as
    written (thousands commas allowed; a trailing % means the value is a fraction), or the same text."""
    text = quoted.strip()
    if value is None:
        return text == "never"
    if isinstance(value, bool):
        return text == ("yes" if value else "no")
    if isinstance(value, list):
        return [t.strip() for t in text.split(">")] == [str(v) for v in value]
    if isinstance(value, (int, float)):
        percent = text.endswith("%")
        number = text.rstrip("%").replace(",", "")
        decimals = len(number.partition(".")[2])
        target = value * 100 if percent else value
        return math.isclose(round(target, decimals), float(number), abs_tol=1e-9)
    return text == str(value)


def _assert_same(new: object, old: object, where: str) -> None:
    """Equal data, floats within 1e-9 relative (another machine's last bits in fANOVA or a sum)."""
    if isinstance(old, dict):
        assert isinstance(new, dict) and new.keys() == old.keys(), where
        for k in old:
            _assert_same(new[k], old[k], f"{where}/{k}")
    elif isinstance(old, list):
        assert isinstance(new, list) and len(new) == len(old), where
        for k, (a, b) in enumerate(zip(new, old)):
            _assert_same(a, b, f"{where}/{k}")
    elif isinstance(old, float) and isinstance(new, (int, float)):
        assert math.isclose(new, old, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {new} != {old}"
    else:
        assert new == old, f"{where}: {new!r} != {old!r}"


def test_a_rerun_through_the_command_line_trains_the_sweeps_first_trial_again(tmp_path) -> None:
    """``python -m experiments.bergstra.rerun``: a sweep of the spec cut to its first trial, submitted through
    searchsvc; the shipped score where this machine is of the tables' type."""
    out = tmp_path / "rerun.csv"
    subprocess.run([sys.executable, "-m", "experiments.bergstra.rerun", "--trials", "1", "--out", str(out)], cwd=ROOT,
                   check=True, capture_output=True, text=True, timeout=600)
    rerun = pd.read_csv(out)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert list(rerun["trial_index"]) == [0] and meta["trials"] == 1 and meta["threads"] == 1
    shipped = pd.read_csv(TABLES / "random.csv").set_index("trial_index")
    assert [c for c in shipped.columns if c.startswith("param_")] == [c for c in rerun.columns if c.startswith("param_")]
    if same_machine_type():
        assert tuple(rerun.loc[0, ["status", "val_score", "test_score"]]) == \
            tuple(shipped.loc[0, ["status", "val_score", "test_score"]])
