import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genie.sample import maskgit

K, MASK = 16, 16


def _logits_fn(tokens_BN):
    """A fixed stand-in model whose logits depend on the known tokens."""
    known = jnp.where(tokens_BN == MASK, 0, tokens_BN + 1).sum(-1, keepdims=True)
    base = jnp.sin(jnp.arange(tokens_BN.shape[-1])[:, None] * 0.7 + jnp.arange(K)[None, :])
    return 3.0 * base[None] + 0.1 * known[..., None]


def _decode(key, tokens=None, steps=6, **kw):
    tokens = jnp.full((3, 20), MASK) if tokens is None else tokens
    return maskgit.decode(_logits_fn, tokens, MASK, key, steps, **kw)


def test_every_position_is_filled_after_s_steps():
    final, history = _decode(jax.random.key(0))
    assert history.shape == (6, 3, 20)
    assert not (final == MASK).any() and int(final.max()) < K
    np.testing.assert_array_equal(history[-1], final)


def test_masked_count_follows_the_cosine_schedule():
    _, history = _decode(jax.random.key(1), steps=6)
    for s in range(6):
        expected = math.floor(20 * math.cos(math.pi / 2 * (s + 1) / 6))
        assert ((history[s] == MASK).sum(-1) == expected).all()


def test_kept_tokens_never_change():
    start = jnp.full((3, 20), MASK).at[:, ::4].set(7)  # some tokens known from the start
    final, history = _decode(jax.random.key(2), tokens=start)
    np.testing.assert_array_equal(final[:, ::4], 7)
    for s in range(1, history.shape[0]):
        kept = history[s - 1] != MASK
        np.testing.assert_array_equal(history[s][kept], history[s - 1][kept])


def test_same_key_same_result():
    a, _ = _decode(jax.random.key(3))
    b, _ = _decode(jax.random.key(3))
    c, _ = _decode(jax.random.key(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_zero_temperature_is_greedy():
    final, _ = _decode(jax.random.key(5), temperature=0.0, choice_temperature=0.0)
    assert final.shape == (3, 20)


@pytest.mark.parametrize("rate", [(0.5, 1.0), (0.9, 0.9)])
def test_training_mask_rate_and_frame_zero(rate):
    mask = maskgit.training_mask(jax.random.key(0), (64, 5, 50), *rate)
    assert not mask[:, 0].any()
    per_sample = mask[:, 1:].mean(axis=(1, 2))
    assert per_sample.min() > rate[0] - 0.1 and per_sample.max() < rate[1] + 0.1
    assert abs(float(per_sample.mean()) - sum(rate) / 2) < 0.05


def test_training_mask_per_frame_draws_a_rate_for_each_frame():
    shape = (64, 6, 200)
    per_clip = maskgit.training_mask(jax.random.key(0), shape, 0.0, 1.0)
    per_frame = maskgit.training_mask(jax.random.key(0), shape, 0.0, 1.0, per_frame=True)
    assert not per_frame[:, 0].any()
    spread = lambda mask: float(mask[:, 1:].mean(axis=2).std(axis=1).mean())  # across a clip's frames
    assert spread(per_clip) < 0.05 < 0.15 < spread(per_frame)
    # Some frames are left nearly visible while a later frame of the same clip is mostly masked:
    # the case of generation, which a per-clip rate never trains.
    rates = per_frame[:, 1:].mean(axis=2)
    assert bool(jnp.any((rates[:, :-1].min(axis=1) < 0.1) & (rates[:, -1] > 0.9)))
    # A rate per clip draws exactly Genie's masks as before: earlier runs train the same.
    k_rate, k_mask = jax.random.split(jax.random.key(0))
    rate_B = jax.random.uniform(k_rate, (64,), minval=0.0, maxval=1.0)
    genie = (jax.random.uniform(k_mask, shape) < rate_B[:, None, None]).at[:, 0].set(False)
    assert (per_clip == genie).all()


def test_sample_categorical_follows_the_distribution():
    probs_K = jnp.array([0.0, 0.1, 0.2, 0.0, 0.3, 0.4])
    logits = jnp.broadcast_to(jnp.log(probs_K), (4000, 6))  # log 0 = -inf: never drawn
    samples = maskgit.sample_categorical(jax.random.key(0), logits)
    freq = np.bincount(np.asarray(samples), minlength=6) / samples.size
    assert freq[0] == freq[3] == 0
    np.testing.assert_allclose(freq, probs_K, atol=0.03)  # ~4 standard errors at 4000 draws
    # Unnormalised logits give the same draws as their log-softmax: only differences matter.
    again = maskgit.sample_categorical(jax.random.key(0), logits + 7.0)
    assert (np.asarray(again) == np.asarray(samples)).mean() > 0.99
