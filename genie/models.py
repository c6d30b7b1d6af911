"""Building the three models of a config together, with matching shapes."""

from __future__ import annotations

import jax
from flax import nnx

from genie.config import Config
from genie.dynamics import DynamicsModel
from genie.lam import LatentActionModel
from genie.tokenizer import VideoTokenizer


def build_models(cfg: Config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
    tokenizer = VideoTokenizer(cfg.tokenizer, cfg.data, rngs=rngs)
    lam = LatentActionModel(cfg.lam, cfg.data, rngs=rngs)
    dynamics = DynamicsModel(cfg.dynamics, cfg.tokenizer.num_codes, tokenizer.num_tokens, cfg.lam.num_actions,
                             rngs=rngs)
    return {"tokenizer": tokenizer, "lam": lam, "dynamics": dynamics}


def count_params(model: nnx.Module) -> int:
    return int(sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param))))
