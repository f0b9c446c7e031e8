"""The plugin author's kit, a pytest plugin shipped in the wheel (entry point ``pytest11``: active in any pytest
session where cmedl-bench is installed). Importing it does not import torch.

Fixtures:

- ``cmedl_small_phantom``: the small phantom (4 CBCT patients x 2 weeks, 2 MRI patients), generated once per
  session into a temporary folder; while it lives, generated datasets are cached in a temporary folder too;
- ``cmedl_register``: ``cmedl_register(plugin, name="test-plugin", distribution="local", version="0")`` registers
  a plugin object in-process (what an entry point would do) and removes it after the test;
- ``cmedl_conformance``: ``cmedl_conformance(distribution=None, kinds=(...), names=(...), options=None)`` runs the
  conformance checks of :mod:`cmedl_bench.stages.conformance` (the ones ``cmedl-bench plugins check`` runs;
  ``options``: ``KEY=VALUE`` texts for the checked datasets) and fails the test with every rule that does not hold;
- ``cmedl_cli``: ``cmedl_cli("run", "--preset", "smoke", ..., env={...})`` runs the command line in a subprocess,
  as a user would (:func:`run_cli`), and returns the ``subprocess.CompletedProcess`` (``returncode``, ``stdout``,
  ``stderr``); plugins registered with ``cmedl_register`` live in this process only, so the CLI sees installed
  distributions (or a ``PYTHONPATH`` given in ``env``).

A smoke run of a fusion on the small phantom: ``cmedl_bench.api.run(..., data=cmedl_small_phantom,
preset="smoke", results=tmp_path)``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m cmedl_bench ARGS`` in a subprocess with this environment (plus ``env``), output captured."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "cmedl_bench", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


@pytest.fixture
def cmedl_cli():
    return run_cli


@pytest.fixture(scope="session")
def cmedl_small_phantom(tmp_path_factory):
    from cmedl_bench.api import synth
    from cmedl_bench.settings import CACHE_VARIABLE

    with pytest.MonkeyPatch.context() as patch:  # generated datasets never go to the user's cache
        patch.setenv(CACHE_VARIABLE, str(tmp_path_factory.mktemp("cmedl-cache")))
        yield synth(tmp_path_factory.mktemp("cmedl-data") / "phantom", size="small", quiet=True)


@pytest.fixture
def cmedl_register():
    from cmedl_bench.registry import register_plugin, unregister_plugin

    names: list[str] = []

    def register(plugin: object, name: str = "test-plugin", distribution: str = "local", version: str = "0"):
        register_plugin(plugin, name=name, distribution=distribution, version=version)
        names.append(name)

    yield register
    for name in names:
        unregister_plugin(name)


@pytest.fixture
def cmedl_conformance():
    from cmedl_bench.stages.conformance import CHECKS, check_components

    def conforms(distribution: str | None = None, kinds: tuple[str, ...] = tuple(CHECKS),
                 names: tuple[str, ...] = (), options: dict[str, str] | None = None) -> list:
        findings = check_components(distribution, kinds, names, options)
        failed = [f"{f.kind} {f.name}: {f.rule}: {f.detail}" for f in findings if not f.passed]
        if failed:
            pytest.fail("conformance: " + "; ".join(failed), pytrace=False)
        return findings

    return conforms
