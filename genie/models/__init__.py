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
from genie.nn.compute import resolve


def build_models(cfg: Config, seed: int) -> dict[str, nnx.Module]:
    """The tokenizer, LAM and dynamics model of `cfg`, each initialised from its own stream of
    `seed`, so that one model's kind or size does not change another's initial weights; they
    compute as cfg.compute resolves on this backend."""
    rngs = {name: nnx.Rngs(jax.random.fold_in(jax.random.key(seed), i)) for i, name in enumerate(STAGES)}
    # Pixel codes make the tokenizer its k-means codebook of patches, with no transformer around it.
    compute = resolve(cfg.compute)
    if cfg.tokenizer.quantizer.kind == "pixel":
        tokenizer = PatchTokenizer(cfg.tokenizer, cfg.data, rngs=rngs["tokenizer"])
    else:
        tokenizer = VideoTokenizer(cfg.tokenizer, cfg.data, rngs=rngs["tokenizer"], compute=compute)
    lam = LatentActionModel(cfg.lam, cfg.data, rngs=rngs["lam"], compute=compute)
    dynamics = DynamicsModel(cfg.dynamics, cfg.tokenizer.quantizer.num_codes, tokenizer.num_tokens, cfg.lam.num_actions,
                             rngs=rngs["dynamics"], compute=compute)
    return {"tokenizer": tokenizer, "lam": lam, "dynamics": dynamics}


def count_params(model: nnx.Module) -> int:
    return int(sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param))))


STAGES = ("tokenizer", "lam", "dynamics")


# Quantizer fields a kind does not read: FSQ learns nothing and keeps no usage; pixel codes are
# fitted, not trained; only FSQ has levels.
_UNUSED_QUANTIZER_FIELDS = {"vq": ("fsq_levels",),
                            "fsq": ("commitment_weight", "codebook_weight", "usage_decay", "dead_code_threshold"),
                            "pixel": ("fsq_levels", "commitment_weight", "codebook_weight", "dead_code_threshold")}


def _model_signature(section) -> dict:
    tree = to_dict(section)
    for key in _UNUSED_QUANTIZER_FIELDS.get(section.quantizer.kind, ()):
        del tree["quantizer"][key]
    return tree


def stage_signature(name: str, cfg: Config) -> dict:
    """The config fields a checkpoint of stage `name` depends on."""
    common = {"data": {"height": cfg.data.height, "width": cfg.data.width, "clip_length": cfg.data.clip_length}}
    if name == "tokenizer":
        return {**common, "tokenizer": _model_signature(cfg.tokenizer)}
    if name == "lam":
        return {**common, "lam": _model_signature(cfg.lam)}
    return {**common, "tokenizer": _model_signature(cfg.tokenizer), "lam": _model_signature(cfg.lam),
            "dynamics": to_dict(cfg.dynamics), "cotrain_lam": cfg.train.cotrain_lam}


class Cotrained(nnx.Module):
    """The dynamics model and the LAM as one trainable unit."""

    def __init__(self, dynamics: DynamicsModel, lam: LatentActionModel):
        self.dynamics, self.lam = dynamics, lam
