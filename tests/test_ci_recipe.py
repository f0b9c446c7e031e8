"""The GitHub workflow cannot run here; at least every cmedl-bench command it calls must exist with those options."""

import re
import shlex

from typer.testing import CliRunner

from cmedl_bench.cli import app
from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "leaderboard.yml"


def _commands() -> list[list[str]]:
    commands = []
    for line in WORKFLOW.read_text().splitlines():
        match = re.search(r"(?:run: |^\s+)(cmedl-bench .*?)(?:\s*>>.*)?$", line)
        if match:
            commands.append(shlex.split(match.group(1))[1:])
    return commands


def test_workflow_calls_only_existing_commands_and_options():
    commands = _commands()
    verbs = {args[0] for args in commands}
    assert {"sweep", "report"} <= verbs
    runner = CliRunner()
    for args in commands:
        help_text = runner.invoke(app, [args[0], "--help"], env={"COLUMNS": "200"}).stdout
        for option in (a for a in args if a.startswith("--")):
            assert option in help_text, f"{args[0]} has no option {option}"
    assert any("--fail-below" in args for args in commands)
    assert any(a == "md" for args in commands for a in args) and "GITHUB_STEP_SUMMARY" in WORKFLOW.read_text()


def test_a_workflow_runs_the_readme_test_command_and_the_cache_follows_the_default_dataset():
    tests = (REPO / ".github" / "workflows" / "tests.yml").read_text()
    readme = (REPO / "README.md").read_text()
    command = re.search(r"## Test\n\n```bash\n(.+?)\n```", readme).group(1)
    assert f"run: {command}" in tests and "download.pytorch.org/whl/cpu" in tests
    leaderboard = WORKFLOW.read_text()
    assert "key: ${{ steps.dataset.outputs.key }}" in leaderboard and "phantom-v1" not in leaderboard
    script = re.search(r'python -c "(.+?)" >> "\$GITHUB_OUTPUT"', leaderboard).group(1)
    import subprocess
    import sys

    key = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    from cmedl_bench.registry import get_registry

    assert key == f"key=cmedl-bench-phantom-v{get_registry().get('dataset', 'phantom').info.version}"


def test_the_field_conventions_are_there():
    assert "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (REPO / "LICENSE").read_text()
    assert (REPO / "cmedl_bench" / "py.typed").is_file() and '"py.typed"' in (REPO / "pyproject.toml").read_text()
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog") and "## [Unreleased]" in changelog
