"""Vector quantiser with a straight-through estimator, usage statistics and restart of dead
codes from recent encoder outputs. Codes are compared by cosine (l2-normalised codes and
inputs, the default) or by Euclidean distance (codes in the inputs' own space, e.g. pixels),
and can be fitted to a sample of inputs by k-means before training."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx


class CodeUsage(nnx.Variable):
    """Running (EMA) fraction of assignments per code; state, not a trained parameter."""


class FittedCodes(nnx.Variable):
    """A codebook set by `VectorQuantizer.fit`, not by the optimizer: gradient steps would pull
    the codes of rarely chosen inputs off their k-means place."""


def l2_normalize(x, axis=-1, eps=1e-6):
    return x * jax.lax.rsqrt(jnp.sum(x * x, axis=axis, keepdims=True) + eps)


def code_fractions(indices, num_codes: int) -> jax.Array:
    """How often each of the K codes occurs in a batch of indices: [K], summing to 1."""
    return jnp.bincount(indices.reshape(-1), length=num_codes) / indices.size


def usage_stats(fraction_K: jax.Array) -> dict:
    """The share of the codebook in use and the perplexity of the codes' frequencies."""
    entropy = -jnp.sum(jnp.where(fraction_K > 0, fraction_K * jnp.log(jnp.maximum(fraction_K, 1e-12)), 0.0))
    return {"codes_used": jnp.mean(fraction_K > 0), "perplexity": jnp.exp(entropy)}


class VectorQuantizer(nnx.Module):
    def __init__(self, num_codes: int, code_dim: int, *, usage_decay: float = 0.99,
                 dead_threshold: float = 1e-3, euclidean: bool = False, learnt: bool = True, rngs: nnx.Rngs):
        self.num_codes, self.code_dim, self.euclidean = num_codes, code_dim, euclidean
        self.usage_decay, self.dead_threshold = usage_decay, dead_threshold
        init = self._space(jax.random.normal(rngs.params(), (num_codes, code_dim)))
        self.codebook = nnx.Param(init) if learnt else FittedCodes(init)
        self.usage = CodeUsage(jnp.full((num_codes,), 1.0 / num_codes, jnp.float32))  # not weak-typed: one compile

    def _space(self, x):
        """Inputs and codes as compared: as they are (Euclidean) or on the unit sphere (cosine)."""
        return x if self.euclidean else l2_normalize(x)

    def codes(self) -> jax.Array:
        return self._space(self.codebook[...])

    def nearest(self, z_ML: jax.Array) -> jax.Array:
        """Index of the nearest code of each input (z already in the codes' space)."""
        codes = self.codes()
        if self.euclidean:
            return _assign(z_ML, codes)
        return jnp.argmax(z_ML @ codes.T, axis=-1)  # highest cosine on the sphere

    def lookup(self, indices) -> jax.Array:
        return jnp.take(self.codes(), indices, axis=0)

    def __call__(self, z_ML: jax.Array, update_usage: bool = False):
        """Quantises z [..., L]; returns (straight-through codes, indices, losses and stats)."""
        z = self._space(z_ML)
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
        """Moves each dead code onto a random recent encoder output; returns how many moved.
        `enabled` may be traced, so a jitted train step can restart every n-th step."""
        z = self._space(z_ML.reshape(-1, self.code_dim))
        dead_K = self.dead_codes() & enabled
        picks = jax.random.randint(key, (self.num_codes,), 0, z.shape[0])
        self.codebook[...] = jnp.where(dead_K[:, None], z[picks], self.codebook[...])
        # A restarted code starts as if used at the average rate, so it is not restarted at once.
        self.usage[...] = jnp.where(dead_K, 1.0 / self.num_codes, self.usage[...])
        return jnp.sum(dead_K)

    def fit(self, z_ML: jax.Array, key: jax.Array, iterations: int = 25) -> float:
        """Sets the codebook to k-means (Lloyd's algorithm) of the inputs z, seeded by k-means++
        on a random sample of 16 K of them, and marks every code as used; returns the inputs'
        mean squared distance to their code. A code that loses all its inputs keeps its place."""
        z = self._space(jnp.asarray(z_ML, jnp.float32).reshape(-1, self.code_dim))
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
