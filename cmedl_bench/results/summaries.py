"""Mean ± SD of one metric over the cases of one split, as the report's tables print it (paper Tables 1 and 2:
mean ± SD over all test cases; here of all seeds pooled)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    mean: float
    sd: float
    n: int
    flagged: int = 0

    def text(self, digits: int) -> str:
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"


def summarise(frame, split: str, metric: str) -> Summary | None:
    """The summary of ``metric`` on ``split`` in a per-case frame (long format: split, metric, value, flag), the SD
    with one degree of freedom; None where the frame holds no such value."""
    values = frame[(frame["split"] == split) & (frame["metric"] == metric)]
    if values.empty:
        return None
    v = values["value"].astype(float)
    return Summary(float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, int(len(v)),
                   int(values["flag"].notna().sum()))
