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
