
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genie.sample import rollout
from tests.conftest import make_models

SAMPLING = dict(steps=4, temperature=0.0, choice_temperature=0.0)  # greedy: no ties to break by noise


def _prompt_state(tiny_cfg, tokenizer, tiny_batch, k=1):
    tokens = tokenizer.encode(jnp.asarray(tiny_batch[:, :k]))
    return rollout.init_state(tokens, jnp.zeros((2, k - 1), jnp.int32), tiny_cfg.data.clip_length)


def test_window_slides_and_keeps_the_latest_frames():
    state = rollout.init_state(jnp.full((1, 1, 2), 100), jnp.zeros((1, 0), jnp.int32), context=4)
    for i in range(5):
        state = rollout.push(state, jnp.full((1, 2), i), jnp.array([i + 10]))
    assert int(state.count) == 3
    np.testing.assert_array_equal(state.tokens_BCN[0, :, 0], [2, 3, 4])
    np.testing.assert_array_equal(state.actions_BC[0], [12, 13, 14])


def test_window_can_slide_several_frames_at_once():
    state = rollout.init_state(jnp.full((1, 1, 2), 100), jnp.zeros((1, 0), jnp.int32), context=5)
    counts = []
    for i in range(8):
        state = rollout.push(state, jnp.full((1, 2), i), jnp.array([i + 10]), slide=2)
        counts.append(int(state.count))
    assert counts == [2, 3, 4, 3, 4, 3, 4, 3]
    np.testing.assert_array_equal(state.tokens_BCN[0, :3, 0], [5, 6, 7])


@pytest.mark.parametrize("slide", [1, 3])
def test_cached_rollout_equals_full_recomputation_past_the_window(tiny_cfg, tiny_batch, slide):
    tokenizer, _, dynamics = make_models(tiny_cfg)
    traces = []

    def make(fn):
        @nnx.jit
        def step(tokenizer, dynamics, state, action, key):
            traces.append(fn.__name__)  # runs only while tracing
            return fn(tokenizer, dynamics, state, action, key, **SAMPLING, slide=slide)
        return step

    cached, uncached = make(rollout.next_frame), make(rollout.next_frame_uncached)
    state_u = _prompt_state(tiny_cfg, tokenizer, tiny_batch)
    state_c = rollout.with_caches(tokenizer, dynamics, state_u)
    frames = 2 * tiny_cfg.data.clip_length  # well past the window of T-1 frames
    for i in range(frames):
        action, key = jnp.array([i % 4, (i + 1) % 4]), jax.random.key(i)
        frame_c, tokens_c, state_c = cached(tokenizer, dynamics, state_c, action, key)
        frame_u, tokens_u, state_u = uncached(tokenizer, dynamics, state_u, action, key)
        np.testing.assert_array_equal(tokens_c, tokens_u)
        np.testing.assert_allclose(frame_c, frame_u, atol=1e-5)
        assert frame_c.shape == tiny_batch[:, 0].shape
    # One compilation each for every frame, inside and past the window.
    assert traces == ["next_frame", "next_frame_uncached"]
