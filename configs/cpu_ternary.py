"""The default recipe with ternary transformers (BitNet b1.58, genie/nn/bitlinear.py): every linear
layer in the blocks of the LAM and of the dynamics model has weights of -1, 0 or +1 times one scale
and 8-bit inputs. The tokenizer is the recipe's pixel codes, with no transformer to make ternary.

    python scripts/train.py --config configs/cpu_ternary.py     # reads or makes data/cpu

Expected on 2 CPU cores: as long as the default recipe (~1 hour); held out, the four targets of the
default recipe (docs/record.md, "Ternary worlds"). Fine-tuning a trained float run instead:
--config.train.init_from=runs/cpu.
"""

import pathlib

from genie.config import Config, load_config, override


def get_config() -> Config:
    cfg = load_config(pathlib.Path(__file__).with_name("cpu.py"))
    return override(cfg, {"name": "cpu_ternary", "data.dir": "data/cpu", "lam.transformer.ternary": True,
                          "dynamics.transformer.ternary": True})
