"""``cmedl_bench.lazy`` defers the import of a factory's module to its first call."""

import sys

import pytest

from cmedl_bench import lazy


def test_lazy_imports_on_call_and_forwards_arguments(tmp_path, monkeypatch):
    (tmp_path / "lazy_probe_module.py").write_text("def build(a, b=1):\n    return a + b\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    factory = lazy("lazy_probe_module:build")
    assert "lazy_probe_module" not in sys.modules
    assert factory(2, b=3) == 5
    assert "lazy_probe_module" in sys.modules


def test_lazy_rejects_a_malformed_target():
    with pytest.raises(ValueError, match="package.module:callable"):
        lazy("no_colon_here")
