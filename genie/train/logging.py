"""Where training reports go: a progress bar, metrics.jsonl, TensorBoard, and W&B if asked."""

from __future__ import annotations

import json
import pathlib
import time

import jax


class RunLog:
    def __init__(self, directory: pathlib.Path, stage: str, total_steps: int, start_step: int,
                 use_wandb: bool = False, config: dict | None = None):
        self.primary = jax.process_index() == 0  # one process writes for all
        self.directory = directory
        self.bar = self.tb = self.wandb = None
        if not self.primary:
            return
        from tensorboardX import SummaryWriter
        from tqdm import tqdm

        directory.mkdir(parents=True, exist_ok=True)
        self.jsonl = open(directory / "metrics.jsonl", "a")
        self.tb = SummaryWriter(str(directory / "tensorboard"))
        self.bar = tqdm(total=total_steps, initial=start_step, desc=stage, dynamic_ncols=True)
        if use_wandb:
            try:
                import wandb
            except ImportError:
                raise RuntimeError("train.wandb=True needs Weights & Biases: pip install wandb") from None
            self.wandb = wandb.init(project="genie", name=f"{directory.parent.name}-{stage}", config=config,
                                    resume="allow")

    def event(self, **record) -> None:
        """A one-off record (start of a run, compile time, interruption) in metrics.jsonl."""
        if self.primary:
            self.jsonl.write(json.dumps({"time": time.time(), **record}) + "\n")
            self.jsonl.flush()
            self.bar.write(" ".join(f"{k}={v}" for k, v in record.items()))

    def metrics(self, step: int, values: dict) -> None:
        if not self.primary:
            return
        values = {k: float(v) for k, v in values.items()}
        self.jsonl.write(json.dumps({"step": step, "time": time.time(), **values}) + "\n")
        self.jsonl.flush()
        for key, value in values.items():
            self.tb.add_scalar(key, value, step)
        if self.wandb:
            self.wandb.log(values, step=step)
        shown = {k: f"{values[k]:.4g}" for k in ("loss", "psnr", "token_accuracy", "frames_per_s") if k in values}
        self.bar.set_postfix(shown, refresh=False)

    def advance(self, steps: int = 1) -> None:
        if self.bar:
            self.bar.update(steps)

    def close(self) -> None:
        if self.primary:
            self.bar.close()
            self.tb.close()
            self.jsonl.close()
            if self.wandb:
                self.wandb.finish()
