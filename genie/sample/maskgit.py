"""MaskGIT: training masks and the parallel decoding loop, as pure functions.

The model enters decoding only through `logits_fn(tokens_BN) -> logits_BNK`, so the same loop
serves full recomputation and cached stepping.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def training_mask(key, shape_BTN, rate_min: float, rate_max: float, per_frame: bool = False) -> jax.Array:
    """Bernoulli mask with a rate ~ U(rate_min, rate_max) per sample (`per_frame`: per frame);
    frame 0 is never masked."""
    k_rate, k_mask = jax.random.split(key)
    rate_BT = jax.random.uniform(k_rate, (shape_BTN[0], shape_BTN[1] if per_frame else 1), minval=rate_min,
                                 maxval=rate_max)
    mask = jax.random.uniform(k_mask, shape_BTN) < rate_BT[:, :, None]
    return mask.at[:, 0].set(False)


def cosine_schedule(ratio):
    """Fraction of the initially unknown tokens still masked after `ratio` of the steps."""
    return jnp.cos(0.5 * math.pi * ratio)


def sample_categorical(key, logits_NK: jax.Array) -> jax.Array:
    """One sample per row of softmax(logits), by inverting the cumulative distribution: one
    uniform number per row, where jax.random.categorical draws a Gumbel number per entry (at
    1024 codes x 64 tokens that generation was ~10% of a MaskGIT step on CPU)."""
    cdf = jnp.cumsum(jax.nn.softmax(logits_NK, axis=-1), axis=-1)
    u = jax.random.uniform(key, logits_NK.shape[:-1] + (1,)) * cdf[..., -1:]
    return jnp.minimum(jnp.sum(cdf < u, axis=-1), logits_NK.shape[-1] - 1)


def decode(logits_fn, tokens_BN: jax.Array, mask_id: int, key: jax.Array, steps: int,
           temperature: float = 1.0, choice_temperature: float = 4.5):
    """Fills every `mask_id` position of tokens_BN in `steps` steps; known tokens never change.

    Each step samples all unknown positions, keeps the most confident (log-probability plus
    Gumbel noise annealed to zero, i.e. a Gumbel top-k choice) and re-masks the rest, so that
    cos(pi/2 * s/S) of the unknown tokens are still masked after step s. Returns the final
    tokens and the tokens after every step, [S, B, N].
    """
    unknown0_B = jnp.sum(tokens_BN == mask_id, axis=-1)

    def one_step(carry, s):
        tokens, key = carry
        key, k_sample, k_choice = jax.random.split(key, 3)
        logits = logits_fn(tokens).astype(jnp.float32)
        if temperature > 0:
            sampled = sample_categorical(k_sample, logits / temperature)
        else:
            sampled = jnp.argmax(logits, axis=-1)
        logp = jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), sampled[..., None], axis=-1)[..., 0]
        unknown = tokens == mask_id
        ratio = (s + 1) / steps
        # The epsilon keeps float32 rounding (cos(pi/3) = 0.49999997) from dropping a token.
        still_masked = jnp.floor(unknown0_B * cosine_schedule(ratio) + 1e-4).astype(jnp.int32)
        # At least one new token per step, so every position is filled after S steps.
        still_masked = jnp.clip(still_masked, 0, jnp.sum(unknown, axis=-1) - 1)
        gumbel = jax.random.gumbel(k_choice, logp.shape)
        confidence = jnp.where(unknown, logp + choice_temperature * (1.0 - ratio) * gumbel, jnp.inf)
        threshold = jnp.take_along_axis(jnp.sort(confidence, axis=-1), still_masked[:, None], axis=-1)
        keep = unknown & (confidence >= threshold)
        tokens = jnp.where(keep, sampled, tokens)
        return (tokens, key), tokens

    (tokens, _), history = jax.lax.scan(one_step, (tokens_BN, key), jnp.arange(steps))
    return tokens, history
