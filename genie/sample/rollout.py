"""Generating frames one at a time: MaskGIT over the dynamics model, then the tokenizer decoder.

The state is a fixed-shape window of the last C = T-1 frames' tokens (T = training clip
length), so one compiled function serves every frame, plus the keys/values of the window's
frames in every temporal-attention layer of the dynamics model and of the tokenizer decoder.
Each of the S MaskGIT steps runs only the new frame's N tokens against those caches. While the
window fills, a new frame's keys/values are appended to them; once it is full the oldest frame
leaves, and since every cached key depends on the frames before it (and on its slot's time
position), the caches are recomputed from the slid window (`prefill`) so that the result stays
exactly that of a full pass over the window. `next_frame_uncached` is the same computation the
way the public peers do it, rerunning the whole window at every step: the reference for tests
and benchmarks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx, struct

from genie.nn.layers import write_slot
from genie.sample import maskgit


@struct.dataclass
class RolloutState:
    tokens_BCN: jax.Array  # tokens of the frames in the window, in slots 0..count-1
    actions_BC: jax.Array  # actions_BC[:, j]: the action that led into slot j (slot 0: none)
    count: jax.Array  # frames in the window, 1..C
    # Keys/values of slots 0..count-1 (later slots hold junk that attention never sees);
    # None in a state made for `next_frame_uncached`.
    dynamics_cache: list | None = None
    decoder_cache: list | None = None


def init_state(tokens_BkN: jax.Array, actions_Bkm1: jax.Array, context: int) -> RolloutState:
    """A window of C = context - 1 slots holding k prompt frames and the k-1 actions between them."""
    b, k, n = tokens_BkN.shape
    slots = context - 1
    if not 1 <= k <= slots:
        raise ValueError(f"a prompt of {k} frames does not fit a window of {slots} past frames")
    tokens = jnp.zeros((b, slots, n), jnp.int32).at[:, :k].set(tokens_BkN)
    actions = jnp.zeros((b, slots), jnp.int32).at[:, 1:k].set(actions_Bkm1)
    return RolloutState(tokens, actions, jnp.asarray(k, jnp.int32))


def with_caches(tokenizer, dynamics, state: RolloutState, filled: int | None = None) -> RolloutState:
    """The state with the caches of its window computed: what `next_frame` needs. `filled`
    (static): the window is known to hold that many frames, so only those slots are run."""
    slots = state.tokens_BCN.shape[1]
    filled = filled or slots
    tokens, actions = state.tokens_BCN[:, :filled], state.actions_BC[:, 1:filled]
    pad = lambda cache: [tuple(jnp.pad(a, [(0, 0)] * 3 + [(0, slots - filled), (0, 0)]) for a in kv) for kv in cache]
    _, dynamics_cache = dynamics.prefill(tokens, actions)
    _, decoder_cache = tokenizer.decoder_prefill(tokens)
    return state.replace(dynamics_cache=pad(dynamics_cache), decoder_cache=pad(decoder_cache))


def start(tokenizer, dynamics, tokens_BkN, actions_Bkm1, context: int) -> RolloutState:
    """init_state with the caches computed: the state `next_frame` starts from."""
    return with_caches(tokenizer, dynamics, init_state(tokens_BkN, actions_Bkm1, context), filled=tokens_BkN.shape[1])


def push(state: RolloutState, tokens_BN, action_B, slide: int = 1) -> RolloutState:
    """The window with a new frame appended; when it is full, the oldest `slide` frames leave."""
    slots = state.tokens_BCN.shape[1]
    if not 1 <= slide <= slots:
        raise ValueError(f"slide must be in 1..{slots} (the window's slots), got {slide}")
    full = state.count == slots
    tokens = jnp.where(full, jnp.roll(state.tokens_BCN, -slide, axis=1), state.tokens_BCN)
    actions = jnp.where(full, jnp.roll(state.actions_BC, -slide, axis=1), state.actions_BC)
    slot = jnp.where(full, slots - slide, state.count)
    tokens = jax.lax.dynamic_update_slice_in_dim(tokens, tokens_BN[:, None], slot, axis=1)
    actions = jax.lax.dynamic_update_slice_in_dim(actions, action_B[:, None], slot, axis=1)
    return state.replace(tokens_BCN=tokens, actions_BC=actions, count=slot + 1)


def _sample(logits_fn, shape_BN, mask_id, key, steps, temperature, choice_temperature):
    blank = jnp.full(shape_BN, mask_id, jnp.int32)
    return maskgit.decode(logits_fn, blank, mask_id, key, steps, temperature, choice_temperature)[0]


def next_frame(tokenizer, dynamics, state: RolloutState, action_B, key, steps: int, temperature: float,
               choice_temperature: float, slide: int = 1):
    """Samples the frame after the window given action_B; returns (frame_BHWC, tokens_BN, state).
    `slide` > 1 drops that many frames at once when the window is full, so the caches are
    recomputed once every `slide` frames instead of every frame (a context of C-slide+1..C)."""
    if state.dynamics_cache is None:
        raise ValueError("next_frame needs a state with caches: use rollout.with_caches(tokenizer, dynamics, state)")
    logits_fn = lambda tokens_BN: dynamics.step(tokens_BN, action_B, state.dynamics_cache, state.count)[0]
    b, _, n = state.tokens_BCN.shape
    tokens_BN = _sample(logits_fn, (b, n), dynamics.mask_id, key, steps, temperature, choice_temperature)
    frame_BHWC, decoder_kv = tokenizer.decode_step(tokens_BN, state.decoder_cache, state.count)
    moved = push(state, tokens_BN, action_B, slide)

    def extend():  # the window had room: the new frame's keys/values join the caches
        _, dynamics_kv = dynamics.step(tokens_BN, action_B, state.dynamics_cache, state.count)
        return (write_slot(state.dynamics_cache, dynamics_kv, state.count),
                write_slot(state.decoder_cache, decoder_kv, state.count))

    def refill():  # the oldest frames left: every slot's keys/values change
        fresh = with_caches(tokenizer, dynamics, moved, filled=state.tokens_BCN.shape[1] - slide + 1)
        return fresh.dynamics_cache, fresh.decoder_cache

    full = state.count == state.tokens_BCN.shape[1]
    dynamics_cache, decoder_cache = jax.lax.cond(full, refill, extend)
    return frame_BHWC, tokens_BN, moved.replace(dynamics_cache=dynamics_cache, decoder_cache=decoder_cache)


def _window_with(state: RolloutState, tokens_BN, action_B):
    """The window's C slots plus the new frame in slot `count`: C+1 slots, later ones junk."""
    tokens = jnp.concatenate([state.tokens_BCN, tokens_BN[:, None]], axis=1)
    tokens = jax.lax.dynamic_update_slice_in_dim(tokens, tokens_BN[:, None], state.count, axis=1)
    actions = jnp.concatenate([state.actions_BC, action_B[:, None]], axis=1)
    actions = jax.lax.dynamic_update_slice_in_dim(actions, action_B[:, None], state.count, axis=1)
    return tokens, actions


def next_frame_uncached(tokenizer, dynamics, state: RolloutState, action_B, key, steps: int, temperature: float,
                        choice_temperature: float, slide: int = 1):
    """`next_frame` by full recomputation of the window at every MaskGIT step."""
    b, _, n = state.tokens_BCN.shape
    at = lambda x: jax.lax.dynamic_index_in_dim(x, state.count, axis=1, keepdims=False)

    def logits_fn(tokens_BN):
        tokens, actions = _window_with(state, tokens_BN, action_B)
        return at(dynamics(tokens, actions[:, 1:]))

    tokens_BN = _sample(logits_fn, (b, n), dynamics.mask_id, key, steps, temperature, choice_temperature)
    frame_BHWC = at(tokenizer.decode(_window_with(state, tokens_BN, action_B)[0]))
    return frame_BHWC, tokens_BN, push(state, tokens_BN, action_B, slide)


_next_frame = nnx.jit(next_frame, static_argnums=(5, 6, 7, 8))
_encode = nnx.jit(lambda tokenizer, video_BTHWC: tokenizer.encode(video_BTHWC))
_start = nnx.jit(start, static_argnums=4)


def default_slide(context: int) -> int:
    """Frames a full window drops at once in play: half of it, so that the caches are refilled once
    every few frames while at least half the window's context always remains."""
    return max(1, (context - 1) // 2)


def generate(tokenizer, dynamics, prompt_BkHWC, actions_BM, key, steps: int, temperature: float,
             choice_temperature: float, context: int, slide: int = 1) -> jax.Array:
    """The frames that follow a prompt of k frames: actions_BM holds the k-1 actions between the
    prompt's frames, then one action per new frame; past the window's length it slides by `slide`
    (as `next_frame`). Returns [B, M-k+1, H, W, C] in [0, 1]; new frame i samples with fold_in(key, i)."""
    k = prompt_BkHWC.shape[1]
    state = _start(tokenizer, dynamics, _encode(tokenizer, prompt_BkHWC), actions_BM[:, :k - 1], context)
    frames = []
    for i in range(actions_BM.shape[1] - (k - 1)):
        frame, _, state = _next_frame(tokenizer, dynamics, state, actions_BM[:, k - 1 + i], jax.random.fold_in(key, i),
                                      steps, temperature, choice_temperature, slide)
        frames.append(frame)
    return jnp.stack(frames, axis=1)
