"""A model's quantizer from its config section's `quantizer` (genie.config.QuantizerConfig)."""

from __future__ import annotations

from flax import nnx

from genie.config import ConfigError, QuantizerConfig
from genie.quantizers import Quantizer
from genie.quantizers.fsq import configured_fsq
from genie.quantizers.vq import VectorQuantizer


def quantizer_from_config(section: str, cfg: QuantizerConfig, rngs: nnx.Rngs) -> Quantizer:
    """Genie's VQ or FSQ for the `quantizer` of config section `section` (named in errors)."""
    if cfg.kind == "vq":
        return VectorQuantizer(cfg.num_codes, cfg.code_dim, usage_decay=cfg.usage_decay,
                               dead_threshold=cfg.dead_code_threshold, rngs=rngs)
    if cfg.kind != "fsq":
        kinds = ("vq", "fsq", "pixel") if section == "tokenizer" else ("vq", "fsq")
        raise ConfigError(f"{section}.quantizer.kind={cfg.kind!r} is not one of {kinds}")
    return configured_fsq(f"{section}.quantizer", cfg.fsq_levels, cfg.num_codes, cfg.code_dim)
