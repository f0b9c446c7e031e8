"""Writing and reading files safely: atomic writes of every kind, checkpoints with one-line errors."""
