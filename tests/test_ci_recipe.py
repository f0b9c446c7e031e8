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
