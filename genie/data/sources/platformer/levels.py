"""Procedural platformer levels: a tile grid, patrolling enemies and a coin, all from one seed.

Coordinates are in tiles; row 0 is the top of the level. The player starts at the left and the
coin stands near the right end, past ground with gaps, steps, crates, spikes, lava pools and
floating platforms. Jumps are sized so that every feature can be crossed by the physics in
`platformer.py` (jump height about 3 tiles, jump length about 6 tiles at full speed).
"""

from __future__ import annotations

import dataclasses

import numpy as np

EMPTY, GROUND, PLATFORM, CRATE, SPIKE, LAVA, COIN, WALL = range(8)
NUM_TILES = 8
SOLID = np.array([0, 1, 1, 1, 0, 0, 0, 1], bool)
HAZARD = np.array([0, 0, 0, 0, 1, 1, 0, 0], bool)
MAX_ENEMIES = 4
NUM_THEMES = 6
PLAYER_SIZE = (0.7, 0.9)  # hitbox width, height in tiles
ENEMY_SIZE = (0.8, 0.7)

# Feature mix: mostly ground the player can walk, with an obstacle every few tiles.
_FEATURES = ("flat", "gap", "step", "crates", "spikes", "lava", "platform", "enemy")
_FEATURE_P = np.array([0.16, 0.14, 0.16, 0.12, 0.1, 0.08, 0.12, 0.12])


@dataclasses.dataclass(frozen=True)
class Level:
    seed: int
    grid_HW: np.ndarray  # uint8 tile ids [level_height, length]
    enemies_M4: np.ndarray  # float32 rows (x, y, x_min, x_max) in tiles; y is the top of the enemy
    enemy_speed_M: np.ndarray  # float32 tiles per step, signed
    start_xy: tuple[float, float]
    coin_col: int
    theme: int

    @property
    def length(self) -> int:
        return self.grid_HW.shape[1]


def generate_level(seed: int, height: int = 10, min_length: int = 48, max_length: int = 96) -> Level:
    """Builds the level of `seed`; the same seed always gives the same level."""
    rng = np.random.default_rng([seed, 0x6E1E])
    length = int(rng.integers(min_length, max_length + 1))
    grid = np.zeros((height, length), np.uint8)
    ground = np.full(length, 3)  # ground height in tiles per column; 0 is a pit
    lava_cols: list[int] = []
    crates: list[tuple[int, int]] = []  # (col, stack height)
    spikes: list[int] = []
    platforms: list[tuple[int, int, int]] = []  # (col, width, height above floor)
    enemies: list[tuple[int, int, int]] = []  # (first col, last col, floor height)
    max_ground = max(3, height - 6)

    col, h = 6, 3
    while col < length - 10:
        kind = _FEATURES[rng.choice(len(_FEATURES), p=_FEATURE_P)]
        run = int(rng.integers(3, 7))  # walkable ground before the next feature
        ground[col:col + run] = h
        col += run
        if kind == "gap" or kind == "lava":
            width = int(rng.integers(1, 4))
            ground[col:col + width] = 0
            if kind == "lava":
                lava_cols += range(col, col + width)
            col += width
        elif kind == "step":
            h = int(np.clip(h + rng.choice([-2, -1, 1, 2]), 2, max_ground))
        elif kind == "crates":
            crates.append((col, int(rng.integers(1, 3))))
            ground[col] = h
            col += 1
        elif kind == "spikes":
            width = int(rng.integers(1, 3))
            ground[col:col + width] = h
            spikes += range(col, col + width)
            col += width
        elif kind == "platform":
            width = int(rng.integers(3, 6))
            # A platform over a pit: the player must use it.
            ground[col:col + width] = 0 if rng.random() < 0.5 else h
            platforms.append((col, width, int(rng.integers(2, 4))))
            col += width
        elif kind == "enemy":
            width = int(rng.integers(4, 7))
            ground[col:col + width] = h
            enemies.append((col, col + width - 1, h))
            col += width
        ground[col:] = h
    ground[:6] = 3

    for c in range(length):
        if ground[c]:
            grid[height - ground[c]:, c] = GROUND
    for c in lava_cols:
        grid[height - 1, c] = LAVA
    for c, stack in crates:
        grid[height - ground[c] - stack:height - ground[c], c] = CRATE
    for c in spikes:
        grid[height - ground[c] - 1, c] = SPIKE
    for c, width, above in platforms:
        floor = max(ground[max(c - 1, 0)], ground[min(c + width, length - 1)])
        row = max(height - floor - above, 1)
        grid[row, c:c + width] = PLATFORM
    grid[:, 0] = WALL
    grid[:, -1] = WALL
    coin_col = length - 3
    grid[height - ground[coin_col] - 1, coin_col] = COIN

    enemy_rows = np.zeros((MAX_ENEMIES, 4), np.float32)
    speed = np.zeros(MAX_ENEMIES, np.float32)
    for i, (first, last, floor) in enumerate(enemies[:MAX_ENEMIES]):
        x = first + rng.random() * (last - first)
        enemy_rows[i] = (x, height - floor - ENEMY_SIZE[1], first, last + 1 - ENEMY_SIZE[0])
        speed[i] = rng.uniform(0.04, 0.09) * rng.choice([-1, 1])
    # Unused enemy slots stay at x = y = 0, inside the left wall, where the player never is.
    return Level(
        seed=seed,
        grid_HW=grid,
        enemies_M4=enemy_rows,
        enemy_speed_M=speed,
        start_xy=(2.0, float(height - 3 - PLAYER_SIZE[1])),
        coin_col=coin_col,
        theme=int(rng.integers(NUM_THEMES)),
    )

