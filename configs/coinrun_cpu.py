"""Real Procgen CoinRun on a laptop CPU: the default recipe's models (configs/cpu.py) on 64x64 CoinRun
clips of 8 frames played by the explorer policy, all stages.

    pip install -e ".[procgen]"                   # procgen-gym: Python 3.13 or newer
    python scripts/train.py --config configs/coinrun_cpu.py

Data: hard mode; the explorer (actions held 1-8 steps, RIGHT or RIGHT+UP drawn 60% of the time, a
lost life undone by going back 24 steps) finishes most levels, so clips come from all along
them; four clips an episode, from training levels 0-10,000 (held-out levels for val and test).
Expected on 2 CPU cores: data ~2 min (8,192 train clips from ~2,100 levels, 99.7% of them
finished), then the default recipe's stages (~50 min). It does not yet reach the CoinRun targets:
its 8x8 k-means patch codes hold CoinRun's textured frames at 24.9 dB (docs/record.md, "Real
CoinRun", has the measured run).
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
