"""Benchmarks report each measurement as a ratio to the baseline of its group, measured in the same run."""

import pytest

_values: dict[tuple[str, str], dict[str, float]] = {}  # (group, unit) -> role -> value


@pytest.fixture
def record_value():
    """``record(group, role, value, unit)``; the role 'baseline' is each group's denominator.
    Pass a pytest-benchmark fixture as ``value`` to record its mean time in ms."""

    def record(group: str, role: str, value, unit: str = "ms") -> None:
        if hasattr(value, "stats"):
            if value.stats is None:  # benchmarks disabled
                return
            value = value.stats.stats.mean * 1e3
        _values.setdefault((group, unit), {})[role] = float(value)

    return record


def pytest_terminal_summary(terminalreporter):
    if not _values:
        return
    terminalreporter.section("ratios to the baseline of each group")
    for (group, unit), roles in _values.items():
        baseline = roles.get("baseline")
        for role, value in roles.items():
            ratio = f"{value / baseline:.3f}x" if baseline else "n/a"
            terminalreporter.write_line(f"{group:28s} {role:26s} {value:12.4g} {unit:4s} {ratio}")
