"""Where the platformer's player is in a frame, from its colours alone: what evaluation uses to
ask whether a generated frame still shows the player (object permanence in long play).

The player's body is a saturated blue that no theme's sky, ground, skyline or enemy comes near
(the nearest, theme 0's sky, is ~108 away in RGB); a frame shows the player where enough pixels
lie near that blue, and the player is where their centre is. A tokenizer's codes blur the
sprite a little, so the tolerance is generous and the count small.
"""

from __future__ import annotations

import numpy as np

BODY_RGB = np.array([40, 90, 220], np.float32)  # genie/data/sources/platformer/render.py, _paint_player
TOLERANCE = 60.0  # RGB distance to the body's blue
MIN_PIXELS_PER_TILE2 = 0.08  # body pixels that count as the player, per square pixel of a tile


def find_player(frames_NHWC: np.ndarray, tile_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """(present_N bool, yx_N2 float: the body's centre in pixels, NaN where absent) of uint8 frames."""
    rgb = np.asarray(frames_NHWC, np.float32)
    body_NHW = np.linalg.norm(rgb - BODY_RGB, axis=-1) < TOLERANCE
    count_N = body_NHW.sum(axis=(1, 2))
    present = count_N >= max(3, MIN_PIXELS_PER_TILE2 * tile_pixels ** 2)
    rows, cols = np.arange(body_NHW.shape[1]), np.arange(body_NHW.shape[2])
    with np.errstate(invalid="ignore", divide="ignore"):
        y = (body_NHW.sum(axis=2) * rows).sum(axis=1) / count_N
        x = (body_NHW.sum(axis=1) * cols).sum(axis=1) / count_N
    yx = np.stack([y, x], axis=-1)
    yx[~present] = np.nan
    return present, yx
