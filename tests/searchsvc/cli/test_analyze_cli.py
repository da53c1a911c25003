"""`searchsvc analyze --compare`: random search against a grid and a Sobol search of the same space, from
tables and from sweeps of the ledger; bad comparisons exit 2 naming what to fix."""

from __future__ import annotations

import json

import pytest

from analysis import synthetic_trials


@pytest.fixture
def tables(tmp_path):
    paths = {}
    for kind, (n, seed) in {"random": (64, 0), "grid": (27, 1), "sobol": (32, 2)}.items():
        paths[kind] = tmp_path / f"{kind}.csv"
        synthetic_trials(n, seed=seed, failures=kind != "sobol").to_csv(paths[kind], index=False)
    return paths


def test_compare_draws_the_grid_and_the_sobol_curve_with_randoms_boxes(run, tables, tmp_path) -> None:
    out = tmp_path / "report"
    code, stdout, err = run("analyze", "--table", tables["random"], "--mode", "max", "--out", out, "--no-importance",
                            "--compare", f"grid={tables['grid']}", "--compare", f"sobol:scrambled={tables['sobol']}",
                            "--json")
    assert code == 0, err
    comparison = json.loads(stdout)["comparison"]
    assert [r["label"] for r in comparison["references"]] == ["grid"]
    assert [c["label"] for c in comparison["curves"]] == ["scrambled"]
    assert [row["s"] for row in comparison["curves"][0]["rows"]] == [1, 2, 4, 8, 16, 32]
    assert (out / "comparison.png").stat().st_size > 0 and (out / "comparison.csv").exists()
    code, text, err = run("analyze", "--table", tables["random"], "--mode", "max", "--out", out, "--no-importance",
                          "--compare", f"grid={tables['grid']}")
    assert code == 0 and "grid" in text, err


@pytest.mark.parametrize(("compare", "needle"), [
    ("lattice={grid}", "KIND one of grid, sobol, random"),
    ("grid=", "KIND[:LABEL]=SOURCE"),
    ("grid=no-such-sweep", "not in the ledger"),
    ("grid={missing}", "no such file"),
])
def test_a_bad_comparison_exits_2_naming_it(compare, needle, run, tables, tmp_path) -> None:
    item = compare.format(grid=tables["grid"], missing=tmp_path / "missing.csv")
    code, _, err = run("analyze", "--table", tables["random"], "--mode", "max", "--out", tmp_path / "r",
                       "--no-importance", "--compare", item)
    assert code == 2 and needle in err and "Traceback" not in err, err
