"""The shape of the code (docs/architecture.md): layers enforced by import-linter, one home for each concern, small
modules and functions, and a repository that stands on its own."""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

CORE = REPO / "cmedl_bench"


def _sources(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py"))


def test_layers_and_the_plugin_boundary_hold():
    """import-linter checks the contracts in pyproject.toml: the layers, no core import of a built-in plugin, no
    cycles between the modules of a package."""
    command = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([command, "--config", str(REPO / "pyproject.toml")], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and "3 kept" in result.stdout


def test_core_modules_and_functions_stay_small():
    for path in _sources(CORE):
        lines = path.read_text().count("\n")
        assert lines < 300, f"{path.relative_to(REPO)} has {lines} lines"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"{path.relative_to(REPO)}:{node.lineno} {node.name} has {length} lines"


def test_environment_variables_are_read_in_one_place():
    for path in _sources(CORE, REPO / "plugins"):
        if path.name != "settings.py":
            assert not re.search(r"environ[^\n]*CMEDL_BENCH_", path.read_text()), path


def test_no_docstring_cites_a_document_outside_the_repository():
    for path in _sources(CORE, REPO / "plugins"):
        assert not re.search(r"DESIGN( section|\.md| §)", path.read_text()), path
    cited = {m for path in _sources(CORE, REPO / "plugins") for m in re.findall(r"docs/[\w-]+\.md", path.read_text())}
    assert cited and all((REPO / doc).is_file() for doc in cited), cited
