"""The leaderboard as flat records with numeric values, one per method: the CSV and JSON formats' rows and
``Leaderboard.to_frame()``. Reads a board's rows by their attributes only (no import of the leaderboard module, which
calls this)."""

from __future__ import annotations

from typing import Any


def flat_records(board: Any) -> list[dict[str, Any]]:
    """Flat rows with numeric values (CSV, JSON)."""
    out = []
    for row in board.rows:
        item: dict[str, Any] = {"rank": row.rank, "method": row.label, "head": row.head, **row.components,
                                "setup": row.setup_hash, "dataset": row.setup["dataset"],
                                "reference_masks": row.setup["reference"],
                                "preset": row.setup["preset"], "seeds": ",".join(map(str, row.seeds)),
                                "n_test_cases": row.n_cases}
        for split in ("val", "test"):
            for metric in board.metrics:
                summary = row.metrics.get((split, metric.name))
                item[f"{split}_{metric.name}_mean"] = summary.mean if summary else None
                item[f"{split}_{metric.name}_sd"] = summary.sd if summary else None
        item |= {"kl_mean": row.kl.mean if row.kl else None, "flagged_test_values": row.flagged,
                 "reference": row.reference, "n_pairs": row.n_pairs, "p_wilcoxon": row.p,
                 "p_holm": row.p_holm, "verdict": row.verdict}
        for location, value in sorted(row.subgroups.items()):
            item[f"test_dsc_{location}"] = value
        for kind, found in row.headroom.items():
            item |= {f"headroom_{kind}": found.value, f"headroom_{kind}_ci_low": found.ci[0],
                     f"headroom_{kind}_ci_high": found.ci[1], f"headroom_{kind}_reference": found.reference}
        for metric, found in row.comparisons.items():
            item |= {f"{metric}_pairing": found.pairing, f"{metric}_units": found.units,
                     f"{metric}_scans": found.scans, f"{metric}_mean_difference": found.mean_difference,
                     f"{metric}_ci_low": found.ci[0], f"{metric}_ci_high": found.ci[1],
                     f"{metric}_p": found.p, f"{metric}_p_holm": row.p_holm_by_metric.get(metric)}
        item["run_ids"] = ",".join(run.record.run_id for run in row.runs)
        out.append(item)
    return out
