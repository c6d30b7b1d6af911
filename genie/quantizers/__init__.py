"""Quantizers: continuous vectors [..., L] to one of K discrete codes, behind one interface.

Every quantizer is a `Quantizer`: calling it returns (straight-through codes, indices, aux), aux
holding the codebook and commitment losses (zero where nothing is learnt) and the usage
statistics of the batch; `lookup` gives the codes of indices; `project` is what the
straight-through gradient flows through. Each owns its state: `restart_dead_codes` moves codes
nobody uses onto recent inputs where the quantizer has such codes, and `fit` sets its codes from
data before training where it has a data-dependent start. The trainer calls both the same way
whatever it holds.

    vq.py      VectorQuantizer: a learnt codebook compared by cosine (Genie's VQ)
    fsq.py     FiniteScalarQuantizer: a fixed grid of rounded values, nothing to learn
    kmeans.py  FittedCodebook: codes in the inputs' own space, fitted by k-means, never trained
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class CodeUsage(nnx.Variable):
    """Running (EMA) fraction of assignments per code; state, not a trained parameter."""


def code_fractions(indices, num_codes: int) -> jax.Array:
    """How often each of the K codes occurs in a batch of indices: [K], summing to 1."""
    return jnp.bincount(indices.reshape(-1), length=num_codes) / indices.size


def usage_stats(fraction_K: jax.Array) -> dict:
    """The share of the codebook in use and the perplexity of the codes' frequencies."""
    entropy = -jnp.sum(jnp.where(fraction_K > 0, fraction_K * jnp.log(jnp.maximum(fraction_K, 1e-12)), 0.0))
    return {"codes_used": jnp.mean(fraction_K > 0), "perplexity": jnp.exp(entropy)}


class Quantizer(nnx.Module):
    num_codes: int  # K
    code_dim: int  # L

    def project(self, z_ML: jax.Array) -> jax.Array:
        """The continuous value of z that is quantised; the straight-through gradient is its own."""
        return z_ML

    def __call__(self, z_ML: jax.Array, update_usage: bool = False):
        """Quantises z [..., L]; returns (straight-through codes, indices, losses and usage stats).
        `update_usage` marks a training step: usage statistics, where kept, are updated."""
        raise NotImplementedError

    def lookup(self, indices) -> jax.Array:
        raise NotImplementedError

    def codes(self) -> jax.Array:
        """All K codes [K, L]."""
        return self.lookup(jnp.arange(self.num_codes))

    def restart_dead_codes(self, z_ML: jax.Array, key: jax.Array, enabled=True) -> jax.Array:
        """Moves codes that are no longer used onto inputs z; returns how many moved (none here).
        `enabled` may be traced, so a jitted train step can restart every n-th step."""
        return jnp.zeros((), jnp.int32)

    def fit(self, z_ML: jax.Array, key: jax.Array) -> float:
        """Sets the codes from inputs z before training; returns the inputs' mean squared error."""
        raise NotImplementedError(f"{type(self).__name__} has no codes to fit")
