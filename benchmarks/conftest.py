"""Benchmarks report each measurement as a ratio to the baseline of its group, measured in the same run."""

import pytest

_means: dict[str, dict[str, float]] = {}


@pytest.fixture
def record_mean(request):
    """Call with (group, role, benchmark) after a benchmark ran; role 'baseline' is the denominator."""

    def record(group: str, role: str, benchmark) -> None:
        if benchmark.stats is not None:
            _means.setdefault(group, {})[role] = benchmark.stats.stats.mean

    return record


def pytest_terminal_summary(terminalreporter):
    if not _means:
        return
    terminalreporter.section("ratios to the baseline of each group (mean time)")
    for group, roles in _means.items():
        baseline = roles.get("baseline")
        for role, mean in roles.items():
            ratio = f"{mean / baseline:.3f}x" if baseline else "n/a"
            terminalreporter.write_line(f"{group:24s} {role:24s} {mean * 1e3:10.1f} ms  {ratio}")
