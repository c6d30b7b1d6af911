"""The exploration policy that plays the platformer to make its datasets."""

from __future__ import annotations

import numpy as np

from genie.data.sources.platformer import levels as L
from genie.data.sources.platformer.env import _ACTION_DX, ACTION_NAMES, NUM_ACTIONS, TOP_SPEED, VecPlatformer

# Base action mix of the exploration policy: right-leaning, every action well represented.
_ACTION_P = np.array([0.1, 0.14, 0.3, 0.1, 0.1, 0.26])
_RIGHT_JUMP = ACTION_NAMES.index("right+jump")
_LEFT_JUMP = ACTION_NAMES.index("left+jump")
_JUMP_HOLD = 13  # steps: a little less than a jump spends in the air
# The same action without its jump: what the policy presses in the air, where jumping does nothing.
_NO_JUMP = np.array([ACTION_NAMES.index(name.replace("+jump", "").replace("jump", "noop")) for name in ACTION_NAMES])
# The same action the other way round: what the policy presses at a level's end walls.
_SWAP = {"left": "right", "right": "left"}
_TURNED = np.array([ACTION_NAMES.index("+".join(_SWAP.get(k, k) for k in name.split("+"))) for name in ACTION_NAMES])
# Raised whenever the policy changes what it records, so that an older dataset is not reused.
POLICY_VERSION = 3


class ExplorationPolicy:
    """Random actions held for a random number of steps, with a bias towards progress: facing a
    pit, hazard, enemy or wall, it usually jumps over it in the direction it is moving; at a
    level's end walls it turns round (walking into them would record steps that change nothing)."""

    def __init__(self, env: VecPlatformer, rng: np.random.Generator, repeat: tuple[int, int],
                 jump_when_blocked: float = 0.9):
        self.env, self.rng, self.repeat = env, rng, repeat
        self.jump_when_blocked = jump_when_blocked
        self.action = rng.choice(NUM_ACTIONS, env.num_envs, p=_ACTION_P)
        self.left = np.zeros(env.num_envs, np.int64)

    def reset(self, i: int) -> None:
        self.left[i] = 0

    def _obstacle_ahead(self, direction: np.ndarray) -> np.ndarray:
        env, grid = self.env, self.env.grid
        rows = np.arange(env.num_envs)
        feet = np.clip(np.floor(env.y + L.PLAYER_SIZE[1] - 0.05).astype(int), 0, grid.shape[1] - 2)
        front = np.where(direction > 0, env.x + L.PLAYER_SIZE[0], env.x)
        blocked = np.zeros(env.num_envs, bool)
        for dist in (0.3, 1.0, 1.7):  # looks further than one step at top speed
            col = np.clip(np.floor(front + direction * dist).astype(int), 0, grid.shape[2] - 1)
            at_feet, below = grid[rows, feet, col], grid[rows, feet + 1, col]
            blocked |= L.SOLID[at_feet] | L.HAZARD[at_feet] | L.HAZARD[below] | ~L.SOLID[below]
        enemy_dx = (env.enemies[..., 0] - env.x[:, None]) * direction[:, None]
        blocked |= ((enemy_dx > -0.5) & (enemy_dx < 2.5) & (env.enemy_speed != 0)).any(axis=1)
        return blocked

    def __call__(self) -> np.ndarray:
        n = self.env.num_envs
        renew = self.left <= 0
        self.action = np.where(renew, self.rng.choice(NUM_ACTIONS, n, p=_ACTION_P), self.action)
        self.left = np.where(renew, self.rng.integers(self.repeat[0], self.repeat[1] + 1, n), self.left) - 1
        dx = _ACTION_DX[self.action]
        at_end = (((dx < 0) & (self.env.x - TOP_SPEED < 1))
                  | ((dx > 0) & (self.env.x + L.PLAYER_SIZE[0] + TOP_SPEED > self.env.length - 1)))
        self.action = np.where(at_end, _TURNED[self.action], self.action)
        direction = np.where(_ACTION_DX[self.action] != 0, _ACTION_DX[self.action], self.env.facing)
        jump = (self._obstacle_ahead(direction) & self.env.on_ground
                & (self.rng.random(n) < self.jump_when_blocked))
        # A jump over an obstacle is held until the landing, so the player does not turn mid-air.
        self.action = np.where(jump, np.where(direction > 0, _RIGHT_JUMP, _LEFT_JUMP), self.action)
        self.left = np.where(jump, _JUMP_HOLD, self.left)
        # In the air a jump action acts exactly like the same action without it, so recording it
        # would label identical transitions differently; the policy lets go of jump there.
        self.action = np.where(self.env.on_ground, self.action, _NO_JUMP[self.action])
        return self.action
