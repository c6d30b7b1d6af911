"""Finite scalar quantisation (Mentzer et al. 2023): each of d latent dimensions is bounded and
rounded to one of L_i levels, so the codebook is the fixed grid of prod(L_i) points. Nothing
in it is learnt, so there is no codebook to collapse, no codebook or commitment loss and no
dead code to restart; on the CPU recipe the tokenizer learns faster with it than with the
learnt VQ (docs/record.md)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from genie.config import ConfigError
from genie.quantizers import Quantizer, code_fractions, usage_stats


class FiniteScalarQuantizer(Quantizer):
    def __init__(self, levels: tuple[int, ...]):
        if not levels or min(levels) < 2:
            raise ValueError(f"FSQ levels must be two or more per dimension, got {levels}")
        self.levels = tuple(int(v) for v in levels)
        self.num_codes, self.code_dim = math.prod(self.levels), len(self.levels)
        # Index digits: code index = sum_i digit_i * basis_i, digit_i in [0, L_i).
        self._basis = tuple(int(b) for b in np.cumprod((1,) + self.levels[:-1]))

    def _arrays(self):
        levels = jnp.asarray(self.levels, jnp.float32)
        return levels, jnp.floor(levels / 2), jnp.asarray(self._basis, jnp.int32)

    def _bound(self, z):
        """Squashes z so that rounding gives exactly L_i values per dimension (even L_i too)."""
        levels, _, _ = self._arrays()
        half = (levels - 1) * (1 + 1e-3) / 2
        offset = jnp.where(levels % 2 == 0, 0.5, 0.0)
        return jnp.tanh(z + jnp.arctanh(offset / half)) * half - offset

    def lookup(self, indices) -> jax.Array:
        """Code vectors in [-1, 1]^d of integer indices."""
        levels, half_width, basis = self._arrays()
        digits = (indices[..., None] // basis) % levels.astype(jnp.int32)
        return (digits - half_width) / half_width

    def project(self, z_ML):
        """z bounded to the grid's range, in the codes' units ([-1, 1])."""
        return self._bound(z_ML) / self._arrays()[1]

    def __call__(self, z_ML: jax.Array, update_usage: bool = False):
        """Quantises z [..., d]; returns (straight-through codes, indices, losses and stats).
        There is no state to update (`update_usage` is accepted for the interface)."""
        _, half_width, basis = self._arrays()
        bounded = self._bound(z_ML)
        grid = jnp.round(bounded)
        rounded = bounded + jax.lax.stop_gradient(grid - bounded)  # forward: the grid point; backward: the bound
        digits = (grid + half_width).astype(jnp.int32)
        indices = jnp.sum(digits * basis, axis=-1)
        zero = jnp.zeros((), jnp.float32)
        aux = {"codebook_loss": zero, "commitment_loss": zero, **usage_stats(code_fractions(indices, self.num_codes))}
        return rounded / half_width, indices, aux


def configured_fsq(section: str, levels: tuple[int, ...] | None, num_codes: int,
                   code_dim: int) -> FiniteScalarQuantizer:
    """FSQ of a quantizer config's `fsq_levels`, refused with a ConfigError that says what to set
    where the levels do not make `num_codes` codes of dimension `code_dim` (`section` names the
    quantizer config in the message)."""
    try:
        fsq = FiniteScalarQuantizer(levels or ())
    except ValueError as e:
        raise ConfigError(f"{section}.fsq_levels={levels}: {e}") from None
    if (fsq.num_codes, fsq.code_dim) != (num_codes, code_dim):
        raise ConfigError(f"{section}.fsq_levels={levels} make {fsq.num_codes} codes of dimension {fsq.code_dim}, "
                          f"but num_codes={num_codes} and code_dim={code_dim}: set {section}.num_codes={fsq.num_codes} "
                          f"and {section}.code_dim={fsq.code_dim}")
    return fsq
