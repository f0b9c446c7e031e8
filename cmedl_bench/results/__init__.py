"""Run folders: run records, per-case rows, checkpoints and curves."""
