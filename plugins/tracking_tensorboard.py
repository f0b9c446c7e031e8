"""Logger ``tensorboard``: one event file per run in ``RUN/tensorboard`` (``tensorboard --logdir RESULTS`` shows every
run side by side). Per epoch, every value of the epoch's ``history.json`` row as a scalar (``train/<loss>``,
``val/dsc...``); at the end, the test summary as scalars (``test/<head>/<metric>``), ``learning_curves.png`` and, where
the run drew it, the chain figure as images, and the run id and configuration hash as text. Written through torch's
``SummaryWriter`` (it needs the ``tensorboard`` package)."""

from __future__ import annotations

from cmedl_bench.plugin import Logger


def tag(key: str) -> str:
    """``train_seg_student`` -> ``train/seg_student``; ``val_dsc_teacher`` -> ``val/dsc_teacher``."""
    prefix, _, rest = key.partition("_")
    return f"{prefix}/{rest}" if rest else key


class TensorBoardLogger(Logger):
    def __init__(self, run_dir, record):
        super().__init__(run_dir, record)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))
        self.writer.add_text("run", f"{record.get('run_id')} (configuration {record.get('config_hash', '')[:12]})")

    def epoch(self, epoch, values):
        for key, value in values.items():
            self.writer.add_scalar(tag(key), value, epoch)
        self.writer.flush()

    def finish(self, record):
        import matplotlib.image

        for head, metrics in ((record.get("summary") or {}).get("test") or {}).items():
            for metric, summary in metrics.items():
                if isinstance(summary, dict) and isinstance(summary.get("mean"), (int, float)):
                    self.writer.add_scalar(f"test/{head}/{metric}", summary["mean"])
        for key, name in (("learning_curves", "learning_curves.png"), ("chain", "chain.png")):
            path = self.run_dir / name
            if path.is_file():
                self.writer.add_image(key, matplotlib.image.imread(str(path))[..., :3], dataformats="HWC")
        self.writer.close()
