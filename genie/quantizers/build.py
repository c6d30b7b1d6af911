"""A model's quantizer from its config section (`quantizer`, `code_dim`, `fsq_levels`, usage and
dead-code settings, shared by the tokenizer and LAM sections)."""

from __future__ import annotations

from flax import nnx

from genie.config import ConfigError
from genie.quantizers import Quantizer
from genie.quantizers.fsq import configured_fsq
from genie.quantizers.vq import VectorQuantizer


def quantizer_from_config(section: str, cfg, num_codes: int, count_field: str, rngs: nnx.Rngs) -> Quantizer:
    """Genie's VQ or FSQ for config section `section` (its codes counted by field `count_field`)."""
    if cfg.quantizer == "vq":
        return VectorQuantizer(num_codes, cfg.code_dim, usage_decay=cfg.usage_decay,
                               dead_threshold=cfg.dead_code_threshold, rngs=rngs)
    if cfg.quantizer != "fsq":
        kinds = ("vq", "fsq", "pixel") if section == "tokenizer" else ("vq", "fsq")
        raise ConfigError(f"{section}.quantizer={cfg.quantizer!r} is not one of {kinds}")
    return configured_fsq(section, cfg.fsq_levels, count_field, num_codes, cfg.code_dim)
