import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genie.nn.layers import STTransformer, patchify, rope, unpatchify, write_slot


def test_patchify_round_trip():
    video = jax.random.uniform(jax.random.key(0), (2, 3, 16, 24, 3))
    patches = patchify(video, 4)
    assert patches.shape == (2, 3, 4 * 6, 48)
    np.testing.assert_array_equal(unpatchify(patches, 4, 16, 24), video)
    # Patch 0 is the top-left 4x4 block.
    np.testing.assert_array_equal(patches[0, 0, 0].reshape(4, 4, 3), video[0, 0, :4, :4])


def test_rope_scores_depend_only_on_time_differences():
    q = jax.random.normal(jax.random.key(0), (1, 1, 1, 8))
    k = jax.random.normal(jax.random.key(1), (1, 1, 1, 8))
    score = lambda i, j: jnp.sum(rope(q, jnp.array([i])) * rope(k, jnp.array([j])))
    np.testing.assert_allclose(score(5, 2), score(105, 102), rtol=1e-4)
    assert abs(score(5, 2) - score(5, 4)) > 1e-4


def _model():
    return STTransformer(width=16, ffw=32, heads=2, layers=2, rngs=nnx.Rngs(0))


def test_transformer_is_causal_in_time():
    model = _model()
    x = jax.random.normal(jax.random.key(0), (2, 6, 5, 16))
    t = 2
    y = model(x)
    y2 = model(x.at[:, t + 1:].add(jax.random.normal(jax.random.key(1), (2, 6 - t - 1, 5, 16))))
    np.testing.assert_allclose(y[:, :t + 1], y2[:, :t + 1], atol=1e-5)
    assert not np.allclose(y[:, t + 1:], y2[:, t + 1:], atol=1e-3)


@nnx.jit
def _prefill_step_write(model, window, new, slot):
    _, cache = model.prefill(window)
    out, frame_kv = model.step(new, cache, slot)
    return out, write_slot(cache, frame_kv, jnp.minimum(slot, window.shape[1] - 1))


def test_step_against_cache_equals_full_pass():
    model = _model()
    x = jax.random.normal(jax.random.key(0), (2, 6, 5, 16))
    full = model(x)
    slots = 5
    _, reference = model.prefill(x[:, :slots])
    for n in range(1, 6):
        # The cache holds frames 0..n-1 in slots; later slots hold junk that must be ignored.
        window = x[:, :slots].at[:, n:].set(jax.random.normal(jax.random.key(n), (2, slots - n, 5, 16)))
        out, extended = _prefill_step_write(model, window, x[:, n], n)
        np.testing.assert_allclose(out, full[:, n], atol=1e-5)
        if n < slots:  # writing the new frame's keys/values extends the cache exactly
            for (k, v), (rk, rv) in zip(extended, reference):
                np.testing.assert_allclose(k[:, :, :, :n + 1], rk[:, :, :, :n + 1], atol=1e-5)  # slots: axis 3
                np.testing.assert_allclose(v[:, :, :, :n + 1], rv[:, :, :, :n + 1], atol=1e-5)
