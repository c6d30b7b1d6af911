"""Genie's vector quantiser: a learnt codebook compared by cosine (l2-normalised codes and
inputs), a straight-through estimator, usage statistics and restart of dead codes from recent
encoder outputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from genie.quantizers import CodeUsage, Quantizer, code_fractions, usage_stats


def l2_normalize(x, axis=-1, eps=1e-6):
    return x * jax.lax.rsqrt(jnp.sum(x * x, axis=axis, keepdims=True) + eps)


class VectorQuantizer(Quantizer):
    def __init__(self, num_codes: int, code_dim: int, *, usage_decay: float = 0.99,
                 dead_threshold: float = 1e-3, rngs: nnx.Rngs):
        self.num_codes, self.code_dim = num_codes, code_dim
        self.usage_decay, self.dead_threshold = usage_decay, dead_threshold
        self.codebook = nnx.Param(self.project(jax.random.normal(rngs.params(), (num_codes, code_dim))))
        self.usage = CodeUsage(jnp.full((num_codes,), 1.0 / num_codes, jnp.float32))  # not weak-typed: one compile

    def project(self, z_ML):
        """Inputs and codes as compared: on the unit sphere."""
        return l2_normalize(z_ML)

    def nearest(self, z_ML: jax.Array) -> jax.Array:
        """Index of the nearest code of each input (z already projected)."""
        return jnp.argmax(z_ML @ self.codes().T, axis=-1)  # highest cosine on the sphere

    def lookup(self, indices) -> jax.Array:
        return jnp.take(self.project(self.codebook[...]), indices, axis=0)

    def __call__(self, z_ML: jax.Array, update_usage: bool = False):
        z = self.project(z_ML)
        indices = self.nearest(z)
        q = self.lookup(indices)
        fraction_K = code_fractions(indices, self.num_codes)
        if update_usage:
            self.usage[...] = self.usage_decay * self.usage[...] + (1 - self.usage_decay) * fraction_K
        aux = {
            "codebook_loss": jnp.mean(jnp.square(q - jax.lax.stop_gradient(z))),
            "commitment_loss": jnp.mean(jnp.square(z - jax.lax.stop_gradient(q))),
            **usage_stats(fraction_K),
        }
        q_st = z + jax.lax.stop_gradient(q - z)  # forward: the code; backward: identity to z
        return q_st, indices, aux

    def dead_codes(self) -> jax.Array:
        return self.usage[...] < self.dead_threshold

    def restart_dead_codes(self, z_ML: jax.Array, key: jax.Array, enabled=True) -> jax.Array:
        """Moves each dead code onto a random recent encoder output; returns how many moved."""
        z = self.project(z_ML.reshape(-1, self.code_dim))
        dead_K = self.dead_codes() & enabled
        picks = jax.random.randint(key, (self.num_codes,), 0, z.shape[0])
        self.codebook[...] = jnp.where(dead_K[:, None], z[picks], self.codebook[...])
        # A restarted code starts as if used at the average rate, so it is not restarted at once.
        self.usage[...] = jnp.where(dead_K, 1.0 / self.num_codes, self.usage[...])
        return jnp.sum(dead_K)
