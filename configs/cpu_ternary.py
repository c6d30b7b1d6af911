"""The default recipe's world made ternary (BitNet b1.58, genie/nn/bitlinear.py): every linear layer
in the blocks of the LAM and of the dynamics model gets weights of -1, 0 or +1 times one scale and
8-bit inputs, fine-tuned from the float run runs/cpu (its LAM 750 steps, its dynamics 2,000). The
tokenizer is the recipe's pixel codes, with no transformer to make ternary, taken as they are.

    python scripts/train.py                                      # runs/cpu, the float world first
    python scripts/train.py --config configs/cpu_ternary.py      # runs/cpu_ternary

Expected on 2 CPU cores: ~22 min after runs/cpu; held out, the default recipe's four targets
(genie/worlds/platformer-ternary ships this way: docs/record.md, "2026-12-07: ternary worlds").
Trained from scratch instead (--config configs/cpu.py --config.lam.transformer.ternary=True
--config.dynamics.transformer.ternary=True) the world falls below copying the last frame at t = 1, 2.
"""

import pathlib

from genie.config import Config, load_config, override


def get_config() -> Config:
    cfg = load_config(pathlib.Path(__file__).with_name("cpu.py"))
    return override(cfg, {"name": "cpu_ternary", "data.dir": "data/cpu", "train.init_from": "runs/cpu",
                          "train.lam.steps": 750, "train.dynamics.steps": 2000,
                          "lam.transformer.ternary": True, "dynamics.transformer.ternary": True})
