"""The work behind each verb, one module per verb (see docs/architecture.md): stages read their inputs, call the
engine, trainers, data and results layers, and write artifacts into a run folder. They report progress through a
:class:`cmedl_bench.stages.progress.Reporter` and never build a console themselves."""
