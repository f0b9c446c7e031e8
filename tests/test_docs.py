"""The documentation site: every page in the navigation, the command-line reference generated from the commands'
own help and current, and ``mkdocs build --strict`` clean (no broken link, no unresolved API reference)."""

import subprocess
import sys

import yaml

from tests.conftest import REPO

DOCS = REPO / "docs"


def _nav_pages(entries) -> set[str]:
    pages = set()
    for entry in entries:
        for value in (entry.values() if isinstance(entry, dict) else [entry]):
            pages |= _nav_pages(value) if isinstance(value, list) else {value}
    return pages


def test_every_page_is_in_the_navigation():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    pages = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    assert _nav_pages(config["nav"]) == pages


def test_the_command_line_reference_is_generated_and_current(tmp_path):
    out = tmp_path / "cli.md"
    done = subprocess.run([sys.executable, "-m", "typer", "cmedl_bench.cli", "utils", "docs", "--name", "cmedl-bench",
                           "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    committed = (DOCS / "cli.md").read_text().split("\n", 2)[2]  # after the line that says how it is generated
    assert committed == out.read_text(), "docs/cli.md is stale: regenerate it (its first line says how)"


def test_the_site_builds_strictly(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          capture_output=True, text=True, cwd=REPO, timeout=300, env={"NO_MKDOCS_2_WARNING": "1",
                                                                                      "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "python-api" / "index.html").read_text().count("run_parallel") > 0


def _request_table() -> str:
    """docs/reference.md §8 as the run request's table says it (cmedl_bench.request.FIELDS)."""
    from cmedl_bench.request import FIELDS

    def type_name(kind) -> str:
        return kind.__name__ if isinstance(kind, type) and not hasattr(kind, "__args__") else str(kind).replace(
            "typing.", "").replace("pathlib.", "")

    lines = ["| field | flag | type | default | goes to | verbs | meaning |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for f in FIELDS:
        target = f.target.replace("preset:", "preset field ").replace("option:", "component option ") or "request"
        lines.append(f"| `{f.name}` | `{' / '.join(f.flags)}` | {type_name(f.type)} | `{f.default!r}` | {target} | "
                     f"{', '.join(f.verbs)} | {f.help.replace('|', '/')} |")
    return "\n".join(lines)


def test_every_run_request_field_is_documented_as_the_table_says():
    section = (DOCS / "reference.md").read_text().split("## 8. The run request", 1)[1]
    assert _request_table() in section, "docs/reference.md §8 is stale; its table is, exactly:\n" + _request_table()
