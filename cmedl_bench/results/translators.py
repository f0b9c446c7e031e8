"""The report's translators table: pseudo-MRI against the true MRI aligned to each test scan, KL of the intensity
distributions (paper III.B) and the fidelity metrics at the tumour (``translation-metric`` plugins), mean ± SD over
test cases and seeds.

A row per translator and setup, from two kinds of run:

- a translation run (``translate``): heads ``pmri`` and ``cbct`` (raw CBCT, the KL a translator has to beat); the
  row is named by the translator;
- a run that trained a translator inside a fusion (CMEDL, CT+pMRI, pMRI-Cycle): head ``translator``; the row is
  named by the translator and the method it was trained in (``cx in CMEDL (unet)``, ``cycle in cycle+unet+hint``),
  with the method's training cohort, since the translator of each such method is a network of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cmedl_bench.results.collect import CollectedRun, method_label, variant_suffixes
from cmedl_bench.results.headroom import cohort_label
from cmedl_bench.results.run_record import Head
from cmedl_bench.results.summaries import Summary, summarise


@dataclass
class TranslationRow:
    label: str
    runs: list[CollectedRun]
    kl_pmri: Summary
    kl_cbct: Summary | None
    fidelity: dict[str, Summary] = field(default_factory=dict)  # every other translation metric on test


def _label(run: CollectedRun) -> str:
    translator = run.components["translator"]
    if run.components["fusion"] == "translate":
        return translator
    heads = sorted(set(run.rows["head"]) - {Head.TRANSLATOR})
    head = heads[0] if heads and Head.STUDENT not in heads else Head.STUDENT  # the method's name: its CBCT head
    method = method_label(run.components, head).removesuffix(f"/{head}")  # a method outside the paper's rows
    return f"{translator} in {method}{cohort_label(run)}"


def translator_rows(runs: list[CollectedRun]) -> list[TranslationRow]:
    """The translators table's rows (module docstring) for the runs of a report; runs whose pseudo-MRI was not
    scored on test give none."""
    import pandas as pd

    grouped: dict[tuple[str, str], list[CollectedRun]] = {}
    for run in runs:
        heads = set(run.rows["head"])
        if (Head.PSEUDO_MRI in heads and run.components["fusion"] == "translate") or Head.TRANSLATOR in heads:
            grouped.setdefault((_label(run), run.setup_hash), []).append(run)
    rows = []
    for (label, setup_hash), members in grouped.items():
        frame = pd.concat([run.rows for run in members], ignore_index=True)
        own = frame[frame["head"].isin([Head.PSEUDO_MRI, Head.TRANSLATOR])]
        pmri = summarise(own, "test", "kl")
        if pmri is None:
            continue
        suffix = variant_suffixes([r for (other, _), rs in grouped.items() if other == label for r in rs])
        fidelity = {m: summarise(own, "test", m) for m in sorted(set(own["metric"]) - {"kl"})}
        rows.append(TranslationRow(f"{label}{suffix[setup_hash]}", members, pmri,
                                   summarise(frame[frame["head"] == Head.CBCT], "test", "kl"),
                                   {m: v for m, v in fidelity.items() if v is not None}))
    return rows
