"""Motion features: how well each patch of a frame is matched by the previous frame moved by
each small shift (a cost volume, as in optical flow).

In a platformer an action shows as a shift of a few pixels (the scene scrolls under the camera,
the player moves when the camera is held at a level's edge), which a transformer reading linear
patch embeddings finds only slowly. Given these scores, a small network reads the true action
from consecutive transitions far better (docs/record.md), so the LAM's encoder can take them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Softmax temperature over a patch's mean squared grey-level difference (pixels in [0, 1]): a
# shift that leaves a tenth of the patch off by 0.2 (an edge a pixel out of place) scores
# e^2, about 7 times, below the exact one; where every shift matches equally (a patch of plain
# sky), the scores stay uniform and say nothing.
TEMPERATURE = 2e-3


def num_shifts(radius: int) -> int:
    return (2 * radius + 1) ** 2


def shifts(radius: int) -> list[tuple[int, int]]:
    """The shifts (dy, dx) in [-radius, radius]^2, row-major: the order of the S axis below."""
    return [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]


def each_moved(frames_BTHW: jax.Array, radius: int):
    """Yields the frames moved by each shift (`shifts`), one at a time: at (y, x) the frame's pixel
    at (y + dy, x + dx), edges repeated (axes after W, such as channels, ride along). Consumed one
    at a time, XLA fuses each into its use instead of materialising every moved frame."""
    h, w, r = frames_BTHW.shape[2], frames_BTHW.shape[3], radius
    pad = [(0, 0), (0, 0), (r, r), (r, r)] + [(0, 0)] * (frames_BTHW.ndim - 4)
    padded = jnp.pad(frames_BTHW, pad, mode="edge")
    for dy, dx in shifts(r):
        yield padded[:, :, r + dy:r + dy + h, r + dx:r + dx + w]


def moved(frames_BTHWC: jax.Array, radius: int) -> jax.Array:
    """[B, T, S, H, W, C]: each frame moved by each shift (`each_moved`)."""
    return jnp.stack(list(each_moved(frames_BTHWC, radius)), axis=2)


def mix_shifts(frames_BTHWC: jax.Array, weights_BTNS: jax.Array, radius: int, patch: int) -> jax.Array:
    """[B, T, H, W, C]: each patch of each frame replaced by the mixture, with that patch's weights
    over the shifts, of the frame moved by each shift (`moved`). Summed one shift at a time, which
    XLA fuses, instead of materialising every moved frame: ~7x faster with its gradient at the
    cpu config's shapes."""
    b, t, h, w, c = frames_BTHWC.shape
    weights = weights_BTNS.reshape(b, t, h // patch, 1, w // patch, 1, 1, -1)
    out = jnp.zeros((b, t, h // patch, patch, w // patch, patch, c), frames_BTHWC.dtype)
    for s, shifted in enumerate(each_moved(frames_BTHWC, radius)):
        out = out + shifted.reshape(out.shape) * weights[..., s]
    return out.reshape(b, t, h, w, c)


def shift_costs(video_BTHWC: jax.Array, radius: int, patch: int) -> jax.Array:
    """[B, T-1, N, S]: for frame t+1 and each of its N patches, the mean squared difference to
    frame t moved by each shift (`moved`), compared in grey levels (a third of the work of RGB).
    One shift at a time, which XLA fuses, instead of materialising every moved frame: ~1.6x
    faster at the cpu config's shapes."""
    grey_BTHW = jnp.mean(video_BTHWC, axis=-1)
    b, t, h, w = grey_BTHW.shape
    costs = []
    for shifted_BTHW in each_moved(grey_BTHW[:, :-1], radius):
        error_BTHW = jnp.square(grey_BTHW[:, 1:] - shifted_BTHW)
        patches = error_BTHW.reshape(b, t - 1, h // patch, patch, w // patch, patch).mean(axis=(3, 5))
        costs.append(patches.reshape(b, t - 1, -1))
    return jnp.stack(costs, axis=-1)


def match_scores(video_BTHWC: jax.Array, radius: int, patch: int) -> jax.Array:
    """[B, T, N, S]: for frame t >= 1 and each of its N patches, a softmax over the S shifts
    (`shifts`) of how well frame t-1 moved by that shift matches the patch (`shift_costs`);
    frame 0 has no previous frame and gets zeros."""
    scores = jax.nn.softmax(-shift_costs(video_BTHWC, radius, patch) / TEMPERATURE, axis=-1)
    return jnp.concatenate([jnp.zeros_like(scores[:, :1]), scores], axis=1)
