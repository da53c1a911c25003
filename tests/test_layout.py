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
