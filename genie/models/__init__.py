"""The three models of a config, built together with matching shapes; the stages that train
them, and the config fields a checkpoint of each depends on."""

from __future__ import annotations

import jax
from flax import nnx

from genie.config import Config, to_dict
from genie.models.dynamics import DynamicsModel
from genie.models.lam import LatentActionModel
from genie.models.patch_tokenizer import PatchTokenizer
from genie.models.tokenizer import VideoTokenizer


def build_models(cfg: Config, seed: int) -> dict[str, nnx.Module]:
    """The tokenizer, LAM and dynamics model of `cfg`, each initialised from its own stream of
    `seed`, so that one model's kind or size does not change another's initial weights."""
    rngs = {name: nnx.Rngs(jax.random.fold_in(jax.random.key(seed), i)) for i, name in enumerate(STAGES)}
    # Pixel codes make the tokenizer its k-means codebook of patches, with no transformer around it.
    kind = PatchTokenizer if cfg.tokenizer.quantizer == "pixel" else VideoTokenizer
    tokenizer = kind(cfg.tokenizer, cfg.data, rngs=rngs["tokenizer"])
    lam = LatentActionModel(cfg.lam, cfg.data, rngs=rngs["lam"])
    dynamics = DynamicsModel(cfg.dynamics, cfg.tokenizer.num_codes, tokenizer.num_tokens, cfg.lam.num_actions,
                             rngs=rngs["dynamics"])
    return {"tokenizer": tokenizer, "lam": lam, "dynamics": dynamics}


def count_params(model: nnx.Module) -> int:
    return int(sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param))))


STAGES = ("tokenizer", "lam", "dynamics")


def stage_signature(name: str, cfg: Config) -> dict:
    """The config fields a checkpoint of stage `name` depends on."""
    common = {"data": {"height": cfg.data.height, "width": cfg.data.width, "clip_length": cfg.data.clip_length}}
    if name == "tokenizer":
        return {**common, "tokenizer": to_dict(cfg.tokenizer)}
    if name == "lam":
        return {**common, "lam": to_dict(cfg.lam)}
    return {**common, "tokenizer": to_dict(cfg.tokenizer), "lam": to_dict(cfg.lam),
            "dynamics": to_dict(cfg.dynamics), "cotrain_lam": cfg.train.cotrain_lam}


class Cotrained(nnx.Module):
    """The dynamics model and the LAM as one trainable unit."""

    def __init__(self, dynamics: DynamicsModel, lam: LatentActionModel):
        self.dynamics, self.lam = dynamics, lam
