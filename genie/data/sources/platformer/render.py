"""Drawing the platformer: each level is drawn once into an image; a frame is a crop plus sprites.

Everything is drawn procedurally at the tile size in pixels (supersampled, so shapes stay
recognisable at 6-pixel tiles), so any resolution works without image assets.
"""

from __future__ import annotations

import functools

import numpy as np

from genie.data.sources.platformer import levels as L

_SUPERSAMPLE = 4
STYLES = ("detailed", "flat")

# Per theme: sky top, sky bottom, decoration colour, ground, ground top, platform, crate.
_THEMES = np.array(
    [
        [(110, 170, 240), (190, 225, 255), (250, 250, 255), (120, 80, 50), (70, 170, 60), (150, 110, 70), (190, 140, 70)],
        [(20, 20, 50), (60, 50, 110), (240, 240, 200), (80, 80, 100), (150, 150, 180), (110, 110, 140), (140, 120, 90)],
        [(250, 180, 110), (250, 220, 160), (200, 120, 90), (170, 110, 60), (220, 190, 110), (160, 100, 60), (120, 80, 40)],
        [(150, 210, 200), (210, 240, 220), (80, 150, 110), (70, 100, 70), (40, 140, 70), (90, 130, 90), (160, 120, 60)],
        [(200, 220, 235), (240, 245, 250), (255, 255, 255), (110, 130, 150), (235, 240, 250), (140, 160, 180), (170, 130, 90)],
        [(60, 20, 30), (140, 60, 40), (90, 30, 30), (60, 40, 40), (150, 60, 40), (100, 60, 50), (130, 90, 60)],
    ],
    np.float32,
)
_DECORATION = ("clouds", "stars", "dunes", "hills", "clouds", "stars")
_GROUND_TOP = L.NUM_TILES  # an extra texture: ground with its top surface


def _coverage(tp: int, inside) -> np.ndarray:
    """Fraction of each pixel of a tp x tp tile where inside(u, v) holds (u, v in [0, 1])."""
    n = tp * _SUPERSAMPLE
    v, u = (np.mgrid[0:n, 0:n] + 0.5) / n
    return inside(u, v).reshape(tp, _SUPERSAMPLE, tp, _SUPERSAMPLE).mean(axis=(1, 3))


def _noise(rng, tp: int, amount: float) -> np.ndarray:
    return 1.0 + amount * (rng.random((tp, tp, 1)) - 0.5)


@functools.lru_cache(maxsize=64)
def tile_textures(theme: int, tp: int, flat: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Returns colours [NUM_TILES + 1, tp, tp, 3] and opacity [NUM_TILES + 1, tp, tp]; `flat`
    leaves out the per-pixel grain of ground, walls and lava."""
    sky_top, sky_bottom, deco, ground, top, platform, crate = _THEMES[theme]
    rng = np.random.default_rng(theme)
    grain = 0.0 if flat else 1.0
    rgb = np.zeros((L.NUM_TILES + 1, tp, tp, 3), np.float32)
    alpha = np.zeros((L.NUM_TILES + 1, tp, tp), np.float32)

    rgb[L.GROUND] = ground * _noise(rng, tp, 0.25 * grain)
    surface = _coverage(tp, lambda u, v: v < 0.3)[..., None]
    rgb[_GROUND_TOP] = surface * top + (1 - surface) * rgb[L.GROUND]
    edge = _coverage(tp, lambda u, v: (v < 0.2) | (v > 0.85))[..., None]
    rgb[L.PLATFORM] = (edge * 0.7 + (1 - edge)) * platform
    cross = _coverage(tp, lambda u, v: (np.abs(u - v) < 0.12) | (np.abs(u + v - 1) < 0.12)
                      | (u < 0.1) | (u > 0.9) | (v < 0.1) | (v > 0.9))[..., None]
    rgb[L.CRATE] = cross * crate * 0.6 + (1 - cross) * crate
    rgb[L.WALL] = ground * 0.6 * _noise(rng, tp, 0.2 * grain)
    rgb[L.SPIKE] = (200, 200, 210)
    rgb[L.LAVA] = (255, 90, 20) * _noise(rng, tp, 0.4 * grain)
    rgb[L.COIN] = (255, 210, 40)
    for tile in (L.GROUND, _GROUND_TOP, L.PLATFORM, L.CRATE, L.WALL, L.LAVA):
        alpha[tile] = 1.0
    # Three spikes side by side, each a triangle standing on the tile's floor.
    alpha[L.SPIKE] = _coverage(tp, lambda u, v: v > 0.2 + 1.6 * np.abs(((u * 3) % 1) - 0.5))
    alpha[L.LAVA] = _coverage(tp, lambda u, v: v > 0.25 + 0.1 * np.sin(u * 2 * np.pi))
    alpha[L.COIN] = _coverage(tp, lambda u, v: (u - 0.5) ** 2 + (v - 0.5) ** 2 < 0.16)
    rgb[L.COIN] *= 1 - 0.3 * _coverage(tp, lambda u, v: (np.abs(u - 0.5) < 0.08) & (np.abs(v - 0.5) < 0.22))[..., None]
    return np.clip(rgb, 0, 255), alpha


def _background(theme: int, height_px: int, width_px: int, tp: int, seed: int, flat: bool,
                skyline: bool) -> np.ndarray:
    sky_top, sky_bottom, deco = _THEMES[theme][:3]
    rng = np.random.default_rng([seed, 7])
    frac = np.linspace(0, 1, height_px, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(sky_top * (1 - frac) + sky_bottom * frac, (height_px, width_px, 3)).copy()
    if skyline:
        _skyline(image, tp, rng)
    kind = _DECORATION[theme]
    if kind == "stars":
        if flat:  # single-pixel stars are the one detail smaller than a tile
            return image
        image[rng.random((height_px, width_px)) < 0.012] = deco
    elif kind == "clouds":
        for _ in range(width_px // 40 + 1):
            cx, cy, r = rng.uniform(0, width_px), rng.uniform(0, height_px * 0.5), rng.uniform(3, 8)
            top, left = int(max(cy - r, 0)), int(max(cx - 2 * r, 0))
            y = np.arange(top, min(int(cy + r) + 1, height_px), dtype=np.float32)[:, None]
            x = np.arange(left, min(int(cx + 2 * r) + 1, width_px), dtype=np.float32)[None, :]
            region = image[top:top + y.shape[0], left:left + x.shape[1]]
            mask = ((x - cx) / (2 * r)) ** 2 + ((y - cy) / r) ** 2 < 1
            region[mask] = 0.6 * deco + 0.4 * region[mask]
    else:  # a silhouette of hills or dunes along the bottom half
        x = np.arange(width_px, dtype=np.float32)
        phase, period = rng.uniform(0, 6.3), (20 if kind == "dunes" else 45)
        crest = height_px * (0.55 + 0.12 * np.sin(x / period + phase) + 0.05 * np.sin(x / 11))
        mask = np.arange(height_px, dtype=np.float32)[:, None] > crest[None, :]
        image[mask] = 0.5 * deco + 0.5 * image[mask]
    return image


def _skyline(image_HWC: np.ndarray, tp: int, rng: np.random.Generator) -> None:
    """Draws a far skyline into the sky: towers one to three tiles wide, one to two tiles apart,
    their roofs on tile rows, darker than a light sky or lighter than a dark one. Their upright
    edges show the scene's horizontal scrolling over the whole height of the view: over a plain
    sky only the ground's mortar lines did, and the player's rising and falling, drawn in far
    stronger contrast, outweighed them in every pixel loss (so the LAM's actions followed it).
    Whole tiles and one shade keep the patches they make few, for the tokenizer."""
    height_px, width_px = image_HWC.shape[:2]
    target = 0.0 if image_HWC[:, 0].mean() > 100 else 255.0
    x = 0
    while x < width_px:
        width, gap = tp * rng.integers(1, 4), tp * rng.integers(1, 3)
        top = tp * int(rng.integers(1, height_px // tp // 2))
        tower = image_HWC[top:, x:x + width]
        tower[...] = 0.6 * tower + 0.4 * target
        x += width + gap


def _brick_seams(texture_RC: np.ndarray, tp: int) -> np.ndarray:
    """bool [R * tp, C * tp]: the mortar lines of ground and walls, laid as bricks two tiles
    wide. Their upright lines show the scene's horizontal scrolling everywhere along the ground,
    where plain ground would look the same whichever way the camera moved; two tiles apart, a
    scroll of up to a tile's width each way is told apart from the others."""
    rows, cols = texture_RC.shape
    brick = (texture_RC == L.GROUND) | (texture_RC == L.WALL)
    below_band = brick | (texture_RC == _GROUND_TOP)
    r, c = np.mgrid[0:rows, 0:cols]
    seams = np.zeros((rows, cols, tp, tp), bool)
    seams[..., 0, :] = brick[..., None]  # a line along the top of each course
    band = int(np.ceil(0.3 * tp))  # the ground top's surface band (tile_textures) stays whole
    seams[..., band:, 0] = (below_band & ((r + c) % 2 == 0))[..., None]
    return seams.transpose(0, 2, 1, 3).reshape(rows * tp, cols * tp)


def draw_level(level: L.Level, tp: int, flat: bool = False, margin: int = 0, skyline: bool = False) -> np.ndarray:
    """The level's static image, uint8 [level_height * tp, (length + 2 * margin) * tp, 3], with
    `margin` columns of wall beyond each end of the level."""
    grid = np.pad(level.grid_HW, ((0, 0), (margin, margin)), constant_values=L.WALL)
    rows, cols = grid.shape
    rgb, alpha = tile_textures(level.theme, tp, flat)
    texture = grid.astype(np.int64)
    above = np.vstack([np.full((1, cols), L.EMPTY), grid[:-1]])
    texture[(grid == L.GROUND) & (above != L.GROUND)] = _GROUND_TOP
    # Tile pixels: [rows, cols, tp, tp, C] -> [rows * tp, cols * tp, C].
    tiles_rgb = rgb[texture].transpose(0, 2, 1, 3, 4).reshape(rows * tp, cols * tp, 3)
    tiles_a = alpha[texture].transpose(0, 2, 1, 3).reshape(rows * tp, cols * tp, 1)
    image = _background(level.theme, rows * tp, cols * tp, tp, level.seed, flat, skyline)
    image = tiles_a * tiles_rgb + (1 - tiles_a) * image
    image[_brick_seams(texture, tp)] *= 0.7
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _sprite(tp: int, size: tuple[float, float], paint) -> tuple[np.ndarray, np.ndarray]:
    """An RGB sprite and its mask, the size of a hitbox of `size` tiles."""
    h, w = max(1, round(size[1] * tp)), max(1, round(size[0] * tp))
    n_h, n_w = h * _SUPERSAMPLE, w * _SUPERSAMPLE
    rows, cols = np.mgrid[0:n_h, 0:n_w] + 0.5
    v, u = rows / n_h, cols / n_w
    fine_rgb, fine_a = paint(u, v)
    pool = lambda a: a.reshape(h, _SUPERSAMPLE, w, _SUPERSAMPLE, *a.shape[2:]).mean(axis=(1, 3))
    coverage = pool(fine_a.astype(np.float32))
    rgb = pool(fine_rgb * fine_a[..., None]) / np.maximum(coverage[..., None], 1e-6)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8), coverage >= 0.5


def _paint_player(facing: int):
    def paint(u, v):
        rgb = np.zeros(u.shape + (3,), np.float32)
        body = (np.abs(u - 0.5) < 0.42) & (v > 0.4)
        head = (u - 0.5) ** 2 + ((v - 0.25) * 1.1) ** 2 < 0.2 ** 2 * 2.2
        rgb[body] = (40, 90, 220)
        rgb[head] = (250, 205, 160)
        eye_u = 0.5 + 0.2 * facing
        eye = (np.abs(u - eye_u) < 0.12) & (np.abs(v - 0.22) < 0.1)
        rgb[eye] = (20, 20, 20)
        legs = (v > 0.85) & (np.abs(u - 0.5) < 0.08)
        rgb[legs] = (20, 40, 90)
        return rgb, body | head
    return paint


def _paint_enemy(u, v):
    rgb = np.zeros(u.shape + (3,), np.float32)
    blob = ((u - 0.5) / 0.5) ** 2 + ((v - 0.65) / 0.55) ** 2 < 1
    rgb[blob] = (200, 40, 160)
    eyes = ((np.abs(u - 0.32) < 0.1) | (np.abs(u - 0.68) < 0.1)) & (np.abs(v - 0.5) < 0.12)
    rgb[eyes] = (255, 255, 255)
    return rgb, blob


class Sprites:
    """The player (facing left and right) and enemy sprites at one tile size."""

    def __init__(self, tp: int):
        self.player = {-1: _sprite(tp, L.PLAYER_SIZE, _paint_player(-1)),
                       1: _sprite(tp, L.PLAYER_SIZE, _paint_player(1))}
        self.enemy = _sprite(tp, L.ENEMY_SIZE, _paint_enemy)


def blit(frame_HWC: np.ndarray, sprite: tuple[np.ndarray, np.ndarray], top: int, left: int) -> None:
    """Draws a masked sprite into frame in place, clipped at the frame's borders."""
    rgb, mask = sprite
    h, w = mask.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, frame_HWC.shape[0]), min(left + w, frame_HWC.shape[1])
    if y0 >= y1 or x0 >= x1:
        return
    sub_mask = mask[y0 - top:y1 - top, x0 - left:x1 - left]
    region = frame_HWC[y0:y1, x0:x1]
    region[sub_mask] = rgb[y0 - top:y1 - top, x0 - left:x1 - left][sub_mask]
