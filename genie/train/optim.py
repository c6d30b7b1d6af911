"""The optimizer of a stage: AdamW on a warmup-then-decay schedule, with gradient clipping."""

from __future__ import annotations

import optax

from genie.config import ConfigError, OptimConfig


def learning_rate(cfg: OptimConfig) -> optax.Schedule:
    warmup = min(cfg.warmup_steps, max(cfg.steps - 1, 0))
    end = cfg.lr * cfg.end_lr_fraction
    if cfg.schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(0.0, cfg.lr, warmup, max(cfg.steps, warmup + 1), end)
    if cfg.schedule == "wsd":
        decay = max(1, int(cfg.steps * cfg.decay_fraction))
        stable = max(cfg.steps - warmup - decay, 0)
        return optax.join_schedules(
            [optax.linear_schedule(0.0, cfg.lr, warmup), optax.constant_schedule(cfg.lr),
             optax.linear_schedule(cfg.lr, end, decay)],
            [warmup, warmup + stable])
    if cfg.schedule == "constant":
        return optax.join_schedules([optax.linear_schedule(0.0, cfg.lr, warmup), optax.constant_schedule(cfg.lr)],
                                    [warmup])
    raise ConfigError(f"unknown schedule {cfg.schedule!r}; use cosine, wsd or constant")


def make_optimizer(cfg: OptimConfig) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip),
        optax.adamw(learning_rate(cfg), b1=cfg.b1, b2=cfg.b2, weight_decay=cfg.weight_decay),
    )
