"""Spec validation: valid specs load; every invalid one is one clear line, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchsvc.errors import SpecError
from searchsvc.sweep.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "experiments").glob("*.yaml"))

BASE = """\
name: t
trials: 4
dataset: {name: mnist1d, samples: 200}
space:
  units: {type: log_int, low: 16, high: 128}
  lr: {type: log_uniform, low: 1.0e-4, high: 0.1}
  optimizer: {type: choice, values: [sgd, adam]}
  momentum: {type: uniform, low: 0.0, high: 0.9, when: {optimizer: sgd}}
"""

# (what is wrong, spec text, the field the message must name)
INVALID = [
    ("unknown top-level key", BASE + "bogus: 1\n", "bogus"),
    ("wrong type", BASE.replace("trials: 4", "trials: many"), "trials"),
    ("S <= 0", BASE.replace("trials: 4", "trials: 0"), "trials"),
    ("low > high", BASE.replace("low: 16, high: 128", "low: 128, high: 16"), "space.units"),
    ("log-uniform low <= 0", BASE.replace("low: 1.0e-4", "low: 0"), "space.lr"),
    ("unknown optimizer", BASE.replace("[sgd, adam]", "[sgd, adamm]"), "space.optimizer"),
    ("unknown placement", BASE + "  dropout_placement: {type: choice, values: [inside]}\n", "space.dropout_placement"),
    ("empty choice", BASE.replace("[sgd, adam]", "[]"), "space.optimizer"),
    ("unknown dataset", BASE.replace("name: mnist1d", "name: imagenet"), "dataset.name"),
    ("unknown hyperparameter", BASE + "  hidden: 3\n", "space.hidden"),
    ("unknown distribution type", BASE.replace("type: log_int", "type: lognormal"), "space.units.type"),
    ("distribution without type", BASE + "  layers: {low: 1, high: 2}\n", "space.layers.type"),
    ("condition on a missing parameter", BASE.replace("{optimizer: sgd}", "{optimiser: sgd}"), "space.momentum.when"),
    ("condition with an invalid value", BASE.replace("{optimizer: sgd}", "{optimizer: sgdd}"), "space.momentum.when"),
    ("real range on an integer hyperparameter", BASE + "  layers: {type: uniform, low: 1, high: 3}\n", "space.layers"),
    ("dropout out of [0, 1)", BASE + "  dropout: {type: uniform, low: 0.0, high: 1.5}\n", "space.dropout"),
    ("metric of the wrong task", BASE + "objective: {metric: mse}\n", "objective.metric"),
    ("mode against the metric", BASE + "objective: {metric: accuracy, mode: min}\n", "objective.mode"),
    ("negative cpus", BASE + "resources: {cpus: -1}\n", "resources.cpus"),
    ("zero concurrency", BASE + "max_concurrent: 0\n", "max_concurrent"),
    ("zero trials per bundle", BASE + "bundle: 0\n", "bundle"),
    ("bundle neither auto nor a number", BASE + "bundle: many\n", "bundle: expected an integer >= 1 or auto, got 'many'"),
    ("unknown key in dataset", BASE.replace("samples: 200", "samples: 200, rows: 3"), "dataset.rows"),
    ("missing space", "name: t\ntrials: 4\ndataset: {name: mnist1d}\n", "space"),
    ("empty space", BASE.split("space:")[0] + "space: {}\n", "space"),
    ("bad name", BASE.replace("name: t\n", "name: 'my sweep!'\n"), "name"),
    ("grid smaller than trials", BASE.replace("trials: 4", "trials: 10000\nstrategy: grid"), "trials"),
    ("a partial grid", BASE.replace("trials: 4", "trials: 6\nstrategy: grid"), "every point of its grid"),
    ("duplicate key", BASE + "trials: 5\n", "trials"),
    ("not a mapping", "- a\n- b\n", "mapping"),
    ("empty file", "", "empty"),
    ("invalid YAML", "name: [unclosed\n", "YAML"),
    ("npz fractions leave no training data", BASE.replace("{name: mnist1d, samples: 200}",
     "{name: npz, path: d.npz, val_fraction: 0.5, test_fraction: 0.5}"), "dataset"),
]


@pytest.mark.parametrize("spec", SHIPPED, ids=lambda p: p.name)
def test_shipped_specs_are_valid(spec: Path) -> None:
    loaded = load_spec(spec)
    assert loaded.trials >= 1 and loaded.space


@pytest.mark.parametrize(("why", "text", "field"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_spec_is_one_line_naming_the_field(why: str, text: str, field: str, tmp_path: Path,
                                                   run, searchsvc_home) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    for command in ("validate", "submit"):
        code, out, err = run(command, path)
        assert code == 2, (why, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert field in lines[0], (field, lines[0])
        assert "Traceback" not in err and out == ""
    assert not searchsvc_home.exists(), "a refused spec must write nothing"


def test_at_least_fifteen_distinct_invalid_inputs() -> None:
    assert len({field for _, _, field in INVALID}) >= 15


def test_missing_spec_file(tmp_path, run) -> None:
    code, _, err = run("validate", tmp_path / "nope.yaml")
    assert code == 2 and "not found" in err


@pytest.mark.parametrize(("content", "needle"), [
    (None, "no file"),
    (b"this is not a zip archive", "npz"),
    ({"X": np.zeros((20, 5))}, "X"),
    ({"Z": np.zeros((20, 5, 1))}, "X"),
    ({"X": np.zeros((20, 5, 1)), "y": np.zeros(19, dtype=np.int64)}, "y"),
])
def test_bad_npz_is_refused_before_anything_is_written(content, needle, tmp_path, run, searchsvc_home) -> None:
    data = tmp_path / "d.npz"
    if isinstance(content, bytes):
        data.write_bytes(content)
    elif isinstance(content, dict):
        np.savez(data, **content)
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE.replace("{name: mnist1d, samples: 200}", "{name: npz, path: d.npz}"))
    code, out, err = run("submit", spec, "-q")
    assert code == 2 and needle in err and "Traceback" not in err, err
    assert not searchsvc_home.exists()


def test_relative_npz_path_is_relative_to_the_spec(tmp_path) -> None:
    spec = parse_spec(BASE.replace("{name: mnist1d, samples: 200}", "{name: npz, path: d.npz}"), base_dir=tmp_path)
    assert spec.dataset.path == tmp_path / "d.npz"


def test_defaults_follow_the_task() -> None:
    assert (parse_spec(BASE).metric, parse_spec(BASE).mode) == ("accuracy", "max")
    adding = parse_spec(BASE.replace("{name: mnist1d, samples: 200}", "{name: adding}"))
    assert (adding.metric, adding.mode) == ("mse", "min")


@settings(max_examples=600, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
                    max_leaves=20))
def test_any_document_is_accepted_or_refused_with_a_spec_error(document) -> None:
    import yaml

    try:
        parse_spec(yaml.safe_dump(document))
    except SpecError as e:
        assert str(e) and "\n" not in str(e)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["trials", "seed", "units", "low", "high", "values", "type", "name", "when", "dataset"]),
       st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=5), st.lists(st.integers(), max_size=2)))
def test_mutated_shipped_specs_never_crash(key, value) -> None:
    import yaml

    document = yaml.safe_load(SHIPPED[0].read_text())
    def mutate(node):
        if isinstance(node, dict):
            return {k: (value if k == key else mutate(v)) for k, v in node.items()}
        return node
    try:
        parse_spec(yaml.safe_dump(mutate(document)))
    except SpecError as e:
        assert str(e) and "\n" not in str(e)
