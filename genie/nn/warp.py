"""Moving the pixels of frames by a flow field, with bilinear interpolation."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def warp(frames_BTHWC: jax.Array, flow_BTHW2: jax.Array) -> jax.Array:
    """Each output pixel (y, x) reads the input at (y + flow_y, x + flow_x), bilinearly
    interpolated between the four nearest pixels; reads past an edge take the edge pixel."""
    b, t, h, w, c = frames_BTHWC.shape
    ys, xs = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij")
    y = jnp.clip(ys + flow_BTHW2[..., 0], 0, h - 1)
    x = jnp.clip(xs + flow_BTHW2[..., 1], 0, w - 1)
    y0, x0 = jnp.floor(y), jnp.floor(x)
    wy, wx = (y - y0)[..., None], (x - x0)[..., None]
    y0, x0 = y0.astype(jnp.int32), x0.astype(jnp.int32)
    y1, x1 = jnp.minimum(y0 + 1, h - 1), jnp.minimum(x0 + 1, w - 1)
    flat_BTPC = frames_BTHWC.reshape(b, t, h * w, c)

    def read(yi, xi):
        index = (yi * w + xi).reshape(b, t, h * w, 1)
        return jnp.take_along_axis(flat_BTPC, index, axis=2).reshape(b, t, h, w, c)

    return ((1 - wy) * ((1 - wx) * read(y0, x0) + wx * read(y0, x1))
            + wy * ((1 - wx) * read(y1, x0) + wx * read(y1, x1)))
