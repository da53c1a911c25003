"""The layout's import rules, read from every module's imports (those inside functions too): which package
may import Ray, SQLAlchemy and MLflow, and that ``analysis`` and ``experiments`` stand alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (modules under this folder, a package they may not import, why)
RULES = [
    ("searchsvc/sweep", "ray", "what a sweep is knows no executor"),
    ("searchsvc/sweep", "sqlalchemy", "what a sweep is knows no store"),
    ("searchsvc/sweep", "mlflow", "what a sweep is knows no store"),
    ("searchsvc/stores", "ray", "the stores know no executor"),
    ("searchsvc/cli", "ray", "only searchsvc.run drives Ray"),
    ("searchsvc/cli", "sqlalchemy", "only searchsvc.stores talks SQL"),
    ("searchsvc/cli", "mlflow", "only searchsvc.stores talks to MLflow"),
    ("searchsvc/run", "sqlalchemy", "only searchsvc.stores talks SQL"),
    ("searchsvc/run", "mlflow", "only searchsvc.stores talks to MLflow"),
    ("searchsvc/analyze.py", "ray", "only searchsvc.run drives Ray"),
    ("searchsvc/analyze.py", "sqlalchemy", "only searchsvc.stores talks SQL"),
    ("searchsvc/analyze.py", "mlflow", "only searchsvc.stores talks to MLflow"),
    ("analysis", "searchsvc", "the analysis stands alone (it reads any trials table)"),
    ("analysis", "ray", "the analysis never needs a cluster"),
    ("experiments", "searchsvc", "what gets trained stands alone"),
]


def imported(source: str) -> set[str]:
    """The top-level packages a module's source imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def breaches(root: Path) -> list[str]:
    """Every import of ``root``'s tree that a rule forbids, as 'module: imports X (why)'."""
    found = []
    for place, package, why in RULES:
        target = root / place
        for path in sorted([target] if target.is_file() else target.rglob("*.py")):
            if package in imported(path.read_text()):
                found.append(f"{path.relative_to(root)}: imports {package} ({why})")
    return found


def test_each_package_imports_only_what_its_layer_may() -> None:
    assert breaches(ROOT) == []


@pytest.mark.parametrize("place, source", [
    ("searchsvc/sweep/spec.py", "def f():\n    import ray\n"),
    ("searchsvc/stores/ledger.py", "from ray import tune\n"),
    ("searchsvc/run/driver.py", "import mlflow.tracking\n"),
    ("analysis/table.py", "from searchsvc.stores import ledger\n"),
])
def test_a_forbidden_import_is_found(place, source, tmp_path) -> None:
    (tmp_path / place).parent.mkdir(parents=True)
    (tmp_path / place).write_text(source)
    assert len(breaches(tmp_path)) == 1


#: modules whose tests live elsewhere than tests/<package path>/test_<module>.py, and where
COVERED_BY = {
    "searchsvc/analyze.py": ["tests/searchsvc/cli/test_analyze_cli.py", "tests/searchsvc/run/test_submit.py"],
    "searchsvc/errors.py": ["tests/searchsvc/cli/test_input_refusals.py"],
    "searchsvc/exports.py": ["tests/test_layout.py"],
    "searchsvc/home.py": ["tests/searchsvc/run/test_submit.py"],
    "searchsvc/cli/analysis.py": ["tests/searchsvc/cli/test_analyze_cli.py", "tests/searchsvc/cli/test_ui.py"],
    "searchsvc/cli/group.py": ["tests/searchsvc/cli/test_cli.py"],
    "searchsvc/cli/records.py": ["tests/searchsvc/run/test_submit.py", "tests/searchsvc/run/test_ownership.py",
                                 "tests/searchsvc/cli/test_cli.py"],
    "searchsvc/cli/running.py": ["tests/searchsvc/cli/test_input_refusals.py", "tests/searchsvc/run/test_ownership.py"],
    "searchsvc/cli/texts.py": ["tests/searchsvc/run/test_submit.py", "tests/searchsvc/cli/test_cli.py"],
    "searchsvc/run/cluster.py": ["tests/searchsvc/run/test_submit.py", "tests/cluster/test_cluster.py"],
    "searchsvc/run/driver.py": ["tests/searchsvc/run/test_submit.py", "tests/searchsvc/run/test_ownership.py",
                                "tests/searchsvc/run/test_chaos.py"],
    "searchsvc/run/jobs.py": ["tests/cluster/test_cluster.py", "tests/searchsvc/run/test_unreachable.py"],
    "searchsvc/run/progress.py": ["tests/searchsvc/cli/test_cli.py"],
    "searchsvc/run/protocol.py": ["tests/searchsvc/run/test_worker.py", "tests/searchsvc/run/test_bundles.py"],
    "searchsvc/run/writers.py": ["tests/searchsvc/run/test_writers.py", "tests/searchsvc/run/test_recorder.py"],
    "searchsvc/stores/mlflow_sql.py": ["tests/searchsvc/stores/test_tracking.py"],
    "searchsvc/stores/records.py": ["tests/searchsvc/stores/test_ledger.py"],
    "searchsvc/stores/schema.py": ["tests/searchsvc/stores/test_ledger.py", "tests/searchsvc/run/test_first_use.py"],
    "searchsvc/sweep/costs.py": ["tests/searchsvc/run/test_submit.py"],
    "searchsvc/sweep/data.py": ["tests/searchsvc/cli/test_user_data.py"],
    "searchsvc/sweep/space.py": ["tests/searchsvc/sweep/test_spec.py"],
}


def test_every_module_of_searchsvc_has_its_tests() -> None:
    """A module's tests are tests/<its package path>/test_<its name>.py, or COVERED_BY says where they are."""
    missing = []
    for path in sorted((ROOT / "searchsvc").rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        module = str(path.relative_to(ROOT))
        mirror = ROOT / "tests" / path.parent.relative_to(ROOT) / f"test_{path.name}"
        covering = COVERED_BY.get(module, [str(mirror.relative_to(ROOT))])
        missing += [f"{module}: {place}" for place in covering if not (ROOT / place).exists()]
    assert missing == []


def test_each_packages_public_names_resolve() -> None:
    import importlib

    for package in ("searchsvc.sweep", "searchsvc.stores", "searchsvc.run", "analysis"):
        module = importlib.import_module(package)
        assert all(getattr(module, name) is not None for name in module.__all__), package
