"""Genie's CoinRun case study (arXiv 2402.15391, appendix F) on real Procgen CoinRun, for
accelerators: the paper's data, model shapes, batch sizes and schedules, with the LAM co-trained
with the dynamics model as the paper does.

    pip install -e ".[procgen]"                   # procgen-gym: Python 3.13 or newer
    python scripts/train.py --config configs/coinrun.py

Data: hard mode, Genie's random agent (every action drawn uniformly, one step each), training
levels 0-10,000, episodes of up to 1,000 steps cut into 16-frame clips: 625,000 training clips
(10M frames). Levels are drawn at random for each episode (not each played exactly once); a
random agent's episode ends when it loses its life or reaches the coin (8 of 20 in a sample).

Expected: the dataset at ~1,100 frames/s on 2 CPU cores (2.5 hours; minutes on a 16-core host)
and ~1.1 KB a frame on disk (~11 GB), from a run of 640 clips (docs/record.md, "2026-12-07: real CoinRun").
Training has not been run (no accelerator here): its time, memory and results are unverified;
the paper reports ΔtPSNR and playability, not a tokenizer PSNR, for this case study.
"""

import pathlib

from genie.config import Config, load_config, override


def get_config() -> Config:
    cfg = load_config(pathlib.Path(__file__).with_name("genie_shapes.py"))
    paper = {"b1": 0.9, "b2": 0.9, "weight_decay": 1e-4, "grad_clip": 1.0}
    return override(cfg, {
        "name": "coinrun",
        "data.source": "procgen", "procgen.game": "coinrun", "procgen.distribution_mode": "hard",
        "procgen.policy": "random", "procgen.action_repeat": (1, 1), "procgen.max_episode_steps": 1000,
        "data.train_seeds": (0, 10_000), "data.clips_per_shard": 4096,
        # Tokenizer: batch 48, 300k steps, lr 3e-4 constant after 10k warmup.
        **{f"train.tokenizer.{k}": v for k, v in {"steps": 300_000, "batch_size": 48, "lr": 3e-4,
                                                  "warmup_steps": 10_000, "schedule": "constant", **paper}.items()},
        # LAM: no stage of its own; it learns from scratch with the dynamics model, as in the paper.
        "train.lam.steps": 0,
        # Dynamics: batch 36, 200k steps, lr 3e-5 to 3e-6 after 5k warmup.
        **{f"train.dynamics.{k}": v for k, v in {"steps": 200_000, "batch_size": 36, "lr": 3e-5, "warmup_steps": 5_000,
                                                 "schedule": "cosine", "end_lr_fraction": 0.1, **paper}.items()},
        "train.cotrain_lam": True, "train.checkpoint_every": 5_000, "train.log_every": 100,
    })
