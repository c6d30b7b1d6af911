"""The platformer: many environments stepped together in numpy, and a gymnasium Env of one.

Physics is in tiles per step: horizontal speed set by the action (with inertia by
`platformer.friction`), gravity, jumping from the ground, axis-separated collision against solid
tiles. An episode ends on the coin (reward 10), on touching spikes, lava or an enemy, on falling
into a pit, or at the time limit.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from genie.config import ConfigError, PlatformerConfig
from genie.data.sources.platformer import levels as L
from genie.data.sources.platformer import render as R

# Raised whenever physics or drawing change, so that a dataset made by an older platformer is
# not silently mixed with the current one.
VERSION = 4
ACTION_NAMES = ("noop", "left", "right", "jump", "left+jump", "right+jump")
NUM_ACTIONS = len(ACTION_NAMES)
_ACTION_DX = np.array([0, -1, 1, 0, -1, 1])
_ACTION_JUMP = np.array([0, 0, 0, 1, 1, 1], bool)

# Horizontal speed: v' = friction * v + (1 - friction) * TOP_SPEED * direction. At friction 0 (the
# default) the action alone sets the speed, as in many classic platformers, so what a step does
# does not depend on the steps before it; 0.25 gives a little inertia.
TOP_SPEED = 0.375  # tiles per step: 3 pixels at 8-pixel tiles, so every step scrolls the view alike
GRAVITY, JUMP_SPEED, MAX_FALL = 0.12, 0.88, 0.9  # a jump: 3.2 tiles high, 15 steps in the air
COIN_REWARD = 10.0
_EPS = 1e-4
_PW, _PH = L.PLAYER_SIZE
_EW, _EH = L.ENEMY_SIZE


class VecPlatformer:
    """`num_envs` platformer environments as arrays; each is reset on its own by `reset_env`."""

    def __init__(self, cfg: PlatformerConfig, num_envs: int, height: int = 64, width: int = 64):
        self.cfg, self.num_envs, self.height, self.width = cfg, num_envs, height, width
        self.tp = tp = height // cfg.tiles_per_view
        if tp < 2:
            raise ConfigError(f"frames {height} pixels high with platformer.tiles_per_view={cfg.tiles_per_view} "
                              "give tiles under 2 pixels; lower tiles_per_view")
        if not 0.0 <= cfg.friction < 1.0:
            raise ConfigError(f"platformer.friction={cfg.friction} must be in [0, 1): the share of the speed kept from a step")
        if cfg.style not in R.STYLES:
            raise ConfigError(f"platformer.style={cfg.style!r} is not one of {R.STYLES}")
        if cfg.level_height * tp < height or cfg.min_level_length * tp < width:
            raise ConfigError(f"a level of {cfg.level_height} x {cfg.min_level_length} tiles of {tp} px is "
                              f"smaller than the {height} x {width} view; raise platformer.level_height "
                              "or platformer.min_level_length")
        e, rows, cols = num_envs, cfg.level_height, cfg.max_level_length
        # Wall drawn beyond both ends of a level, so that the camera can keep the player centred
        # there too: a step sideways then always scrolls the view (see `render`).
        self.margin = -(-width // (2 * tp)) + 1
        # Two empty rows below the level so that a falling player can be looked up without clipping.
        self.grid = np.zeros((e, rows + 2, cols), np.uint8)
        self.images = np.zeros((e, rows * tp, (cols + 2 * self.margin) * tp, 3), np.uint8)
        self.sprites = R.Sprites(tp)
        self.level_seed = np.zeros(e, np.int64)
        self.length = np.zeros(e, np.int64)
        self.coin_col = np.zeros(e, np.int64)
        self.start_x = np.zeros(e)
        self.x, self.y, self.vx, self.vy = (np.zeros(e) for _ in range(4))
        self.on_ground = np.zeros(e, bool)
        self.facing = np.ones(e, np.int64)
        self.t = np.zeros(e, np.int64)
        self.enemies = np.zeros((e, L.MAX_ENEMIES, 4))
        self.enemy_speed = np.zeros((e, L.MAX_ENEMIES))
        self._rows = np.arange(e)

    def reset_env(self, i: int, level_seed: int) -> None:
        cfg = self.cfg
        level = L.generate_level(level_seed, cfg.level_height, cfg.min_level_length, cfg.max_level_length)
        n = level.length
        self.grid[i] = L.WALL
        self.grid[i, :cfg.level_height, :n] = level.grid_HW
        self.grid[i, cfg.level_height:, :n] = L.EMPTY
        image = R.draw_level(level, self.tp, cfg.style == "flat", self.margin, cfg.skyline)
        self.images[i, :, :image.shape[1]] = image
        self.level_seed[i], self.length[i], self.coin_col[i] = level_seed, n, level.coin_col
        self.x[i], self.y[i] = level.start_xy
        self.start_x[i] = level.start_xy[0]
        self.vx[i] = self.vy[i] = 0.0
        self.on_ground[i], self.facing[i], self.t[i] = False, 1, 0
        self.enemies[i], self.enemy_speed[i] = level.enemies_M4, level.enemy_speed_M

    # What a step changes (the level itself stays until reset_env).
    _DYNAMIC = ("x", "y", "vx", "vy", "on_ground", "facing", "t", "enemies", "enemy_speed")

    def get_state(self) -> dict:
        """A copy of everything a step changes, for `set_state`: to try actions from one state."""
        return {name: getattr(self, name).copy() for name in self._DYNAMIC}

    def set_state(self, state: dict) -> None:
        for name in self._DYNAMIC:
            setattr(self, name, state[name].copy())

    def _tile(self, rows, cols):
        # Rows above the level read row 0 (sky); the two empty rows below catch a falling player.
        rows = np.minimum(np.maximum(rows.astype(np.int64), 0), self.grid.shape[1] - 1)
        return self.grid[self._rows, rows, cols.astype(np.int64)]

    def _physics(self, dx, jump):
        f = self.cfg.friction
        vx = self.vx * f + dx * (1 - f) * TOP_SPEED
        vy = np.minimum(self.vy + GRAVITY, MAX_FALL)
        vy = np.where(jump & self.on_ground, -JUMP_SPEED, vy)
        x, y = self.x, self.y

        # Horizontal move, then vertical: each checks the tiles along the leading edge.
        nx = x + vx
        right = vx > 0
        col = np.floor(np.where(right, nx + _PW - _EPS, nx))
        hit = L.SOLID[self._tile(y, col)] | L.SOLID[self._tile(y + _PH - _EPS, col)]
        nx = np.where(hit, np.where(right, col - _PW, col + 1), nx)
        vx = np.where(hit, 0.0, vx)

        ny = y + vy
        down = vy > 0
        row = np.floor(np.where(down, ny + _PH - _EPS, ny))
        hit = L.SOLID[self._tile(row, nx)] | L.SOLID[self._tile(row, nx + _PW - _EPS)]
        ny = np.where(hit, np.where(down, row - _PH, row + 1), ny)
        self.on_ground = hit & down
        vy = np.where(hit, 0.0, vy)

        self.x, self.y = nx, ny
        self.vx, self.vy = vx, vy
        self.facing = np.where(dx != 0, dx, self.facing)

        # Enemies patrol between their bounds; empty slots have speed 0 and never move.
        ex = self.enemies[..., 0] + self.enemy_speed
        lo, hi = self.enemies[..., 2], self.enemies[..., 3]
        turn = (ex < lo) | (ex > hi)
        self.enemy_speed = np.where(turn, -self.enemy_speed, self.enemy_speed)
        self.enemies[..., 0] = np.clip(ex, lo, hi)

        # Contacts use a slightly shrunk hitbox, so grazing a corner is forgiven.
        corners = [self._tile(self.y + dy, self.x + dx_) for dy in (0.1, _PH - 0.1) for dx_ in (0.1, _PW - 0.1)]
        hazard = np.any([L.HAZARD[c] for c in corners], axis=0)
        won = np.any([c == L.COIN for c in corners], axis=0)
        cx, cy = self.x + _PW / 2, self.y + _PH / 2
        ecx, ecy = self.enemies[..., 0] + _EW / 2, self.enemies[..., 1] + _EH / 2
        touch = ((np.abs(cx[:, None] - ecx) < 0.4 * (_PW + _EW)) & (np.abs(cy[:, None] - ecy) < 0.4 * (_PH + _EH))
                 & (self.enemy_speed != 0))
        dead = hazard | touch.any(axis=1) | (self.y > self.cfg.level_height)
        return won & ~dead, dead

    def step(self, actions_E: np.ndarray):
        """Advances every environment; returns reward, terminated, truncated (arrays of E)."""
        dx, jump = _ACTION_DX[actions_E], _ACTION_JUMP[actions_E]
        won, dead = self._physics(dx, jump)
        self.t += 1
        terminated = won | dead
        truncated = ~terminated & (self.t >= self.cfg.max_episode_steps)
        return np.where(won, COIN_REWARD, 0.0), terminated, truncated

    @property
    def progress(self) -> np.ndarray:
        """How far along its level each player is: 0 at the start, 1 at the coin."""
        return np.clip((self.x - self.start_x) / (self.coin_col - self.start_x), 0.0, 1.0)

    def render(self, out_EHWC: np.ndarray | None = None, envs=None) -> np.ndarray:
        """Draws every environment's frame into out_EHWC (or only those in `envs`)."""
        cfg, tp = self.cfg, self.tp
        if out_EHWC is None:
            out_EHWC = np.empty((self.num_envs, self.height, self.width, 3), np.uint8)
        # The camera keeps the player centred, even at a level's ends (the wall drawn beyond them
        # shows there): a camera held at the ends would turn a step there into the player's own
        # few pixels of motion, and the step would hardly show. Vertically it keeps more ground
        # than sky in view, clamped to the level.
        cam_x = np.round((self.x + _PW / 2) * tp - self.width / 2).astype(int)
        cam_y = np.clip(np.round((self.y + _PH / 2) * tp - 0.4 * self.height), 0,
                        cfg.level_height * tp - self.height).astype(int)
        px = np.round(self.x * tp).astype(int) - cam_x
        py = np.round(self.y * tp).astype(int) - cam_y
        ex = np.round(self.enemies[..., 0] * tp).astype(int) - cam_x[:, None]
        ey = np.round(self.enemies[..., 1] * tp).astype(int) - cam_y[:, None]
        visible = (self.enemy_speed != 0) & (ex > -tp) & (ex < self.width)
        for i in range(self.num_envs) if envs is None else envs:
            frame = out_EHWC[i]
            left = cam_x[i] + self.margin * tp
            frame[...] = self.images[i, cam_y[i]:cam_y[i] + self.height, left:left + self.width]
            for m in np.flatnonzero(visible[i]):
                R.blit(frame, self.sprites.enemy, ey[i, m], ex[i, m])
            R.blit(frame, self.sprites.player[int(self.facing[i])], py[i], px[i])
        return out_EHWC


class PlatformerEnv(gym.Env):
    """One platformer environment. `reset(seed=s)` draws the level seed from s, or takes
    `options={"level_seed": k}`; the same seeds give the same frames."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, config: PlatformerConfig | None = None, level_seeds: tuple[int, int] = (0, 1_000_000),
                 render_mode: str | None = None, height: int = 64, width: int = 64):
        self.cfg = config or PlatformerConfig()
        self.level_seeds = level_seeds
        self.render_mode = render_mode
        self.core = VecPlatformer(self.cfg, 1, height, width)
        self.observation_space = gym.spaces.Box(0, 255, (height, width, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(NUM_ACTIONS)
        self._frame = None

    def _obs(self):
        self._frame = self.core.render()[0]
        return self._frame.copy()

    def _info(self):
        return {"level_seed": int(self.core.level_seed[0]), "progress": float(self.core.progress[0])}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        level_seed = (options or {}).get("level_seed")
        if level_seed is None:
            level_seed = int(self.np_random.integers(*self.level_seeds))
        self.core.reset_env(0, int(level_seed))
        return self._obs(), self._info()

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in 0..{NUM_ACTIONS - 1} ({', '.join(ACTION_NAMES)})")
        reward, terminated, truncated = self.core.step(np.array([int(action)]))
        return self._obs(), float(reward[0]), bool(terminated[0]), bool(truncated[0]), self._info()

    def render(self):
        return None if self._frame is None else self._frame.copy()
