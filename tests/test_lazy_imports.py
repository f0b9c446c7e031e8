"""``cmedl-bench --help`` and ``cmedl-bench plugins`` must not import torch."""

import subprocess
import sys

import pytest

PROBE = """
import sys
from cmedl_bench.cli import main
sys.argv = ["cmedl-bench", *{args!r}]
try:
    main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print("TORCH_IMPORTED" if "torch" in sys.modules else "TORCH_NOT_IMPORTED")
"""


@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["plugins", "--json"], ["run", "--help"]])
def test_no_torch_import(args):
    result = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("TORCH_NOT_IMPORTED")


def test_shell_completion_completes_verbs_and_options():
    """Through the installed ``cmedl-bench`` script, as a shell calls it (the completion variable is named after it)."""
    import os
    from pathlib import Path

    script = str(Path(sys.executable).parent / "cmedl-bench")

    def complete(words: str, index: int) -> list[str]:
        env = os.environ | {"_CMEDL_BENCH_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(index)}
        return subprocess.run([script], capture_output=True, text=True, env=env, timeout=120).stdout.split()

    assert complete("cmedl-bench sw", 1) == ["sweep"]
    assert complete("cmedl-bench sweep --gr", 2) == ["--grid"]
    shown = subprocess.run([script, "--show-completion", "bash"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "_cmedl_bench_completion" in shown.stdout
