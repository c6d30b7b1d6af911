"""Generating frames one at a time: MaskGIT over the dynamics model, then the tokenizer decoder.

The state is a fixed-shape window of the last C = T-1 frames' tokens (T = training clip
length), so one compiled function serves every frame. Per frame, the window's keys/values are
computed once (`prefill`) and each of the S MaskGIT steps runs only the new frame's N tokens
against them; past C frames the oldest frame leaves the window. `next_frame_uncached` is the
same computation the way the public peers do it, rerunning the whole window at every step:
the reference for tests and benchmarks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from genie import maskgit


@struct.dataclass
class RolloutState:
    tokens_BCN: jax.Array  # tokens of the frames in the window, in slots 0..count-1
    actions_BC: jax.Array  # actions_BC[:, j]: the action that led into slot j (slot 0: none)
    count: jax.Array  # frames in the window, 1..C


def init_state(tokens_BkN: jax.Array, actions_Bkm1: jax.Array, context: int) -> RolloutState:
    """A window of C = context - 1 slots holding k prompt frames and the k-1 actions between them."""
    b, k, n = tokens_BkN.shape
    slots = context - 1
    if not 1 <= k <= slots:
        raise ValueError(f"a prompt of {k} frames does not fit a window of {slots} past frames")
    tokens = jnp.zeros((b, slots, n), jnp.int32).at[:, :k].set(tokens_BkN)
    actions = jnp.zeros((b, slots), jnp.int32).at[:, 1:k].set(actions_Bkm1)
    return RolloutState(tokens, actions, jnp.asarray(k, jnp.int32))


def push(state: RolloutState, tokens_BN, action_B) -> RolloutState:
    """The window with a new frame appended; when full, the oldest frame leaves."""
    slots = state.tokens_BCN.shape[1]
    full = state.count == slots
    tokens = jnp.where(full, jnp.roll(state.tokens_BCN, -1, axis=1), state.tokens_BCN)
    actions = jnp.where(full, jnp.roll(state.actions_BC, -1, axis=1), state.actions_BC)
    slot = jnp.minimum(state.count, slots - 1)
    tokens = jax.lax.dynamic_update_slice_in_dim(tokens, tokens_BN[:, None], slot, axis=1)
    actions = jax.lax.dynamic_update_slice_in_dim(actions, action_B[:, None], slot, axis=1)
    return RolloutState(tokens, actions, jnp.minimum(state.count + 1, slots))


def _sample(logits_fn, shape_BN, mask_id, key, steps, temperature, choice_temperature):
    blank = jnp.full(shape_BN, mask_id, jnp.int32)
    return maskgit.decode(logits_fn, blank, mask_id, key, steps, temperature, choice_temperature)[0]


def next_frame(tokenizer, dynamics, state: RolloutState, action_B, key, steps: int, temperature: float,
               choice_temperature: float):
    """Samples the frame after the window given action_B; returns (frame_BHWC, tokens_BN, state)."""
    _, cache = dynamics.prefill(state.tokens_BCN, state.actions_BC[:, 1:])
    logits_fn = lambda tokens_BN: dynamics.step(tokens_BN, action_B, cache, state.count)[0]
    b, _, n = state.tokens_BCN.shape
    tokens_BN = _sample(logits_fn, (b, n), dynamics.mask_id, key, steps, temperature, choice_temperature)
    _, dec_cache = tokenizer.decoder_prefill(state.tokens_BCN)
    frame_BHWC, _ = tokenizer.decode_step(tokens_BN, dec_cache, state.count)
    return frame_BHWC, tokens_BN, push(state, tokens_BN, action_B)


def _window_with(state: RolloutState, tokens_BN, action_B):
    """The window's C slots plus the new frame in slot `count`: C+1 slots, later ones junk."""
    tokens = jnp.concatenate([state.tokens_BCN, tokens_BN[:, None]], axis=1)
    tokens = jax.lax.dynamic_update_slice_in_dim(tokens, tokens_BN[:, None], state.count, axis=1)
    actions = jnp.concatenate([state.actions_BC, action_B[:, None]], axis=1)
    actions = jax.lax.dynamic_update_slice_in_dim(actions, action_B[:, None], state.count, axis=1)
    return tokens, actions


def next_frame_uncached(tokenizer, dynamics, state: RolloutState, action_B, key, steps: int, temperature: float,
                        choice_temperature: float):
    """`next_frame` by full recomputation of the window at every MaskGIT step."""
    b, _, n = state.tokens_BCN.shape
    at = lambda x: jax.lax.dynamic_index_in_dim(x, state.count, axis=1, keepdims=False)

    def logits_fn(tokens_BN):
        tokens, actions = _window_with(state, tokens_BN, action_B)
        return at(dynamics(tokens, actions[:, 1:]))

    tokens_BN = _sample(logits_fn, (b, n), dynamics.mask_id, key, steps, temperature, choice_temperature)
    frame_BHWC = at(tokenizer.decode(_window_with(state, tokens_BN, action_B)[0]))
    return frame_BHWC, tokens_BN, push(state, tokens_BN, action_B)
