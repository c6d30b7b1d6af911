"""A codebook in the inputs' own space (image patches, say), fitted to data by k-means before
training and never moved by the optimizer or restarted: a rarely chosen code is a rare input
(the player, a coin), not a dead code."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from genie.quantizers import CodeUsage, Quantizer, code_fractions, usage_stats


class FittedCodes(nnx.Variable):
    """A codebook set by `FittedCodebook.fit`, not by the optimizer: gradient steps would pull
    the codes of rarely chosen inputs off their k-means place."""


class FittedCodebook(Quantizer):
    def __init__(self, num_codes: int, code_dim: int, *, usage_decay: float = 0.99, rngs: nnx.Rngs):
        self.num_codes, self.code_dim, self.usage_decay = num_codes, code_dim, usage_decay
        self.codebook = FittedCodes(jax.random.normal(rngs.params(), (num_codes, code_dim)))
        self.usage = CodeUsage(jnp.full((num_codes,), 1.0 / num_codes, jnp.float32))

    def lookup(self, indices) -> jax.Array:
        return jnp.take(self.codebook[...], indices, axis=0)

    def __call__(self, z_ML: jax.Array, update_usage: bool = False):
        """Nearest code by Euclidean distance; the commitment loss is the inputs' squared error."""
        indices = _assign(z_ML, self.codebook[...])
        q = self.lookup(indices)
        fraction_K = code_fractions(indices, self.num_codes)
        if update_usage:
            self.usage[...] = self.usage_decay * self.usage[...] + (1 - self.usage_decay) * fraction_K
        aux = {"codebook_loss": jnp.zeros((), jnp.float32),
               "commitment_loss": jnp.mean(jnp.square(z_ML - jax.lax.stop_gradient(q))), **usage_stats(fraction_K)}
        return z_ML + jax.lax.stop_gradient(q - z_ML), indices, aux

    def fit(self, z_ML: jax.Array, key: jax.Array, iterations: int = 25) -> float:
        """Sets the codebook to k-means (Lloyd's algorithm) of the inputs z, seeded by k-means++
        on a random sample of 16 K of them, and marks every code as used; returns the inputs'
        mean squared distance to their code. A code that loses all its inputs keeps its place."""
        z = jnp.asarray(z_ML, jnp.float32).reshape(-1, self.code_dim)
        if z.shape[0] < self.num_codes:
            raise ValueError(f"k-means of {self.num_codes} codes needs at least as many inputs, got {z.shape[0]}")
        sample_key, seed_key = jax.random.split(key)
        sample = z[jax.random.choice(sample_key, z.shape[0], (min(z.shape[0], 16 * self.num_codes),), replace=False)]
        codes = _kmeans_plus_plus(sample, self.num_codes, seed_key)
        for _ in range(iterations):
            codes = _lloyd_step(z, codes)
        self.codebook[...] = codes
        self.usage[...] = jnp.full((self.num_codes,), 1.0 / self.num_codes, jnp.float32)
        return float(_kmeans_error(z, codes))


def _assign(z_MD, codes_KD):
    """The nearest code by Euclidean distance: |z - c|^2 less the |z|^2 that all codes share."""
    return jnp.argmin(jnp.sum(codes_KD * codes_KD, axis=-1) - 2 * z_MD @ codes_KD.T, axis=-1)


@functools.partial(jax.jit, static_argnums=1)
def _kmeans_plus_plus(z_MD, num_codes: int, key):
    """K inputs, each drawn with probability in proportion to its squared distance to those
    already drawn (Arthur and Vassilvitskii 2007): seeds that cover separated clusters."""
    first = z_MD[jax.random.randint(key, (), 0, z_MD.shape[0])]
    codes = jnp.zeros((num_codes, z_MD.shape[1]), z_MD.dtype).at[0].set(first)
    distance_M = jnp.sum(jnp.square(z_MD - first), axis=-1)

    def draw(k, state):
        codes, distance_M = state
        pick = z_MD[jax.random.categorical(jax.random.fold_in(key, k), jnp.log(jnp.maximum(distance_M, 1e-30)))]
        return codes.at[k].set(pick), jnp.minimum(distance_M, jnp.sum(jnp.square(z_MD - pick), axis=-1))

    return jax.lax.fori_loop(1, num_codes, draw, (codes, distance_M))[0]


@jax.jit
def _lloyd_step(z_MD, codes_KD):
    """One step of Lloyd's algorithm: each code moves to the mean of the inputs nearest to it."""
    a = _assign(z_MD, codes_KD)
    total = jax.ops.segment_sum(z_MD, a, codes_KD.shape[0])
    count = jax.ops.segment_sum(jnp.ones(z_MD.shape[0]), a, codes_KD.shape[0])
    return jnp.where(count[:, None] > 0, total / jnp.maximum(count, 1)[:, None], codes_KD)


@jax.jit
def _kmeans_error(z_MD, codes_KD):
    return jnp.mean(jnp.sum(jnp.square(z_MD - codes_KD[_assign(z_MD, codes_KD)]), axis=-1))
