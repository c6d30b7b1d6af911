import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genie.nn import motion
from genie.nn.layers import patchify, unpatchify
from genie.nn.motion import match_scores, num_shifts


def _texture(h=32, w=48):
    return jax.random.uniform(jax.random.key(0), (h, w, 3))


@pytest.mark.parametrize("dy,dx", [(0, 2), (0, -3), (1, 0), (-2, 1)])
def test_the_best_shift_is_the_motion_between_frames(dy, dx):
    """Frame 1 shows frame 0 moved: each patch away from the edges scores the true shift best."""
    scene = _texture()
    r, patch = 3, 8
    frame0 = scene[8:24, 8:40]
    frame1 = scene[8 + dy:24 + dy, 8 + dx:40 + dx]  # frame1(y, x) = frame0(y + dy, x + dx)
    scores = match_scores(jnp.stack([frame0, frame1])[None], r, patch)
    assert scores.shape == (1, 2, (16 // patch) * (32 // patch), num_shifts(r))
    np.testing.assert_array_equal(scores[0, 0], 0.0)  # frame 0 has no previous frame
    np.testing.assert_allclose(scores[0, 1].sum(-1), 1.0, rtol=1e-5)
    shifts = [(y, x) for y in range(-r, r + 1) for x in range(-r, r + 1)]
    grid = scores[0, 1].reshape(16 // patch, 32 // patch, -1)
    for row in range(grid.shape[0]):
        for col in range(1, grid.shape[1] - 1):  # patches whose shifted reads stay inside the frame
            if row == 0 and dy < 0 or row == grid.shape[0] - 1 and dy > 0:
                continue
            assert shifts[int(jnp.argmax(grid[row, col]))] == (dy, dx)


def test_a_plain_patch_says_nothing():
    video = jnp.full((1, 2, 16, 16, 3), 0.4)
    scores = match_scores(video, 2, 8)
    np.testing.assert_allclose(scores[0, 1], 1.0 / num_shifts(2), rtol=1e-5)


def test_mix_shifts_is_the_weighted_sum_of_moved_frames():
    """The fused mixture equals, patch by patch, the weighted sum over shifts of `moved` frames."""
    b, t, h, w, patch, r = 2, 3, 16, 24, 8, 2
    frames = jax.random.uniform(jax.random.key(0), (b, t, h, w, 3))
    n = (h // patch) * (w // patch)
    weights = jax.nn.softmax(jax.random.normal(jax.random.key(1), (b, t, n, motion.num_shifts(r))), axis=-1)
    moved_BTSNP = patchify(motion.moved(frames, r).reshape(b, -1, h, w, 3), patch).reshape(b, t, -1, n, patch * patch * 3)
    expected = unpatchify(jnp.einsum("btns,btsnp->btnp", weights, moved_BTSNP), patch, h, w)
    np.testing.assert_allclose(motion.mix_shifts(frames, weights, r, patch), expected, atol=1e-6)


def test_shift_costs_are_the_patch_means_of_moved_frames():
    """The fused costs equal the patch means of squared differences to `moved` frames."""
    video = jax.random.uniform(jax.random.key(3), (2, 3, 16, 24, 3))
    r, patch = 2, 8
    grey = jnp.mean(video, axis=-1, keepdims=True)
    error_BTSHW = jnp.square(grey[:, 1:, None] - motion.moved(grey[:, :-1], r))[..., 0]
    b, t, s, h, w = error_BTSHW.shape
    expected = error_BTSHW.reshape(b, t, s, h // patch, patch, w // patch, patch).mean(axis=(4, 6))
    expected = expected.transpose(0, 1, 3, 4, 2).reshape(b, t, -1, s)
    np.testing.assert_allclose(motion.shift_costs(video, r, patch), expected, rtol=1e-6, atol=1e-8)
