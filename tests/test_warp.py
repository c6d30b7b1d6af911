import jax
import jax.numpy as jnp
import numpy as np

from genie.nn.warp import warp


def _frames():
    return jax.random.uniform(jax.random.key(0), (2, 3, 6, 5, 3))


def test_no_flow_is_the_identity():
    frames = _frames()
    np.testing.assert_allclose(warp(frames, jnp.zeros(frames.shape[:-1] + (2,))), frames, atol=1e-6)


def test_a_whole_pixel_flow_shifts_and_repeats_the_edge():
    frames = _frames()
    right = warp(frames, jnp.zeros(frames.shape[:-1] + (2,)).at[..., 1].set(1.0))  # reads one pixel to the right
    np.testing.assert_allclose(right[:, :, :, :-1], frames[:, :, :, 1:], atol=1e-6)
    np.testing.assert_allclose(right[:, :, :, -1], frames[:, :, :, -1], atol=1e-6)
    up = warp(frames, jnp.zeros(frames.shape[:-1] + (2,)).at[..., 0].set(-2.0))  # reads two rows above
    np.testing.assert_allclose(up[:, :, 2:], frames[:, :, :-2], atol=1e-6)


def test_a_half_pixel_flow_averages_neighbours_and_has_a_gradient():
    frames = _frames()
    half = warp(frames, jnp.zeros(frames.shape[:-1] + (2,)).at[..., 1].set(0.5))
    np.testing.assert_allclose(half[:, :, :, :-1], (frames[:, :, :, :-1] + frames[:, :, :, 1:]) / 2, atol=1e-6)
    grad = jax.grad(lambda f: jnp.sum(warp(frames, f) * frames))(jnp.full(frames.shape[:-1] + (2,), 0.3))
    assert np.abs(np.asarray(grad)).sum() > 0
