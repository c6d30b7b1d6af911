"""Real Procgen CoinRun on a laptop CPU: the default recipe's models (configs/cpu.py) on 64x64 CoinRun
clips of 8 frames played by the explorer policy, all stages.

    pip install -e ".[procgen]"                   # procgen-gym: Python 3.13 or newer
    python scripts/train.py --config configs/coinrun_cpu.py

Data: hard mode; the explorer (actions held 1-8 steps, RIGHT or RIGHT+UP drawn 60% of the time, a
lost life undone by going back 24 steps) finishes most levels, so clips come from all along
them; four clips an episode, from training levels 0-10,000 (held-out levels for val and test).
Expected on 2 CPU cores (seed 0, other jobs sharing the cores part of the time): data 1.8 min
(8,192 train clips from ~2,100 levels, 99.7% of them finished), LAM 14 min, dynamics 25 min,
evaluation 2.4 min. Held out (256 test clips): tokenizer 24.75 dB, LAM NMI 0.10 (an ideal LAM on
this data: 0.54), ΔtPSNR at t = 4 1.74 dB, rollouts below copying the last frame until t = 5:
it does not reach the CoinRun targets. Its 8x8 k-means patch codes cannot hold CoinRun's
textures (docs/record.md, "2026-12-07: real CoinRun").
"""

import pathlib

from genie.config import Config, load_config, override


def get_config() -> Config:
    cfg = load_config(pathlib.Path(__file__).with_name("cpu.py"))
    return override(cfg, {
        "name": "coinrun_cpu",
        "data.source": "procgen", "procgen.game": "coinrun", "procgen.distribution_mode": "hard",
        "procgen.policy": "explorer", "procgen.action_repeat": (1, 8),
        "procgen.favoured_actions": ("RIGHT", "RIGHT+UP"), "procgen.favour": 0.6, "procgen.clips_per_episode": 4,
    })
