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


def test_built_in_plugins_import_only_the_public_plugin_module():
    """``plugins/`` is written as a third-party package would be: from ``cmedl_bench`` it imports only
    ``cmedl_bench.plugin`` (its own modules, ``cmedl_bench_plugins.*``, are free)."""
    import ast

    offences = []
    for path in sorted((REPO / "plugins").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offences += [f"{path.name}:{node.lineno} imports {name}" for name in names
                         if (name == "cmedl_bench" or name.startswith("cmedl_bench.")) and name != "cmedl_bench.plugin"]
    assert not offences, offences


def test_the_public_plugin_module_is_light_and_complete():
    import subprocess
    import sys

    code = ("import sys, cmedl_bench.plugin as p; assert 'torch' not in sys.modules, 'torch imported'; "
            "[getattr(p, name) for name in p.__all__]; assert 'torch' in sys.modules; print(len(p.__all__))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 30


def test_every_hook_and_info_field_is_documented_for_plugin_authors():
    """docs/writing-plugins.md names every hook, and every field of every info record in that record's own section
    (datasette's rule: an undocumented hook is a failing test)."""
    import re
    from dataclasses import fields

    from cmedl_bench import hookspecs
    from cmedl_bench.info import INFO_FOR_KIND

    guide = (REPO / "docs" / "writing-plugins.md").read_text()
    hooks = [name for name in dir(hookspecs) if name.startswith("register_")]
    missing = [f"hook {h}" for h in hooks if f"`{h}`" not in guide]
    for record in set(INFO_FOR_KIND.values()):
        section = re.search(rf"^### {record.__name__}\n(.*?)(?=^##)", guide, re.S | re.M)
        missing += [f"{record.__name__}.{f.name}" for f in fields(record)
                    if section is None or f"| `{f.name}` |" not in section.group(1)]
    assert len(hooks) == 8 and not missing, missing
