"""Training loops that drive the plugin contracts: the fusion trainer (``run``) and the translator trainer
(``translate`` and the first stage of two-stage fusions). See docs/architecture.md."""
