"""One level of a Procgen game (OpenAI's Procgen Benchmark, through the procgen-gym package): its
frames, its actions by name, stepping, and its state saved and restored.

procgen-gym is the Gymnasium port of Procgen with prebuilt wheels (for Python 3.13 and newer)
that works with numpy 2 and Gymnasium 1.x, and keeps Procgen's `get_state`/`set_state`, which
the explorer policy and the identifiability probe need; the older ports are built on gym3.
"""

from __future__ import annotations

import sys

import numpy as np

from genie.config import ProcgenConfig
from genie.data.shards import DataError

FRAME_SIZE = 64  # Procgen draws 64x64 frames


def procgen_module():
    """The procgen_gym package, or a DataError that says how to install it."""
    try:
        import procgen_gym
    except ImportError:
        where = (f"this is Python {sys.version_info.major}.{sys.version_info.minor}; make the virtual environment "
                 "with python3.13 or newer, then " if sys.version_info < (3, 13) else "")
        raise DataError("the procgen data source needs the procgen-gym package, which has wheels for Python 3.13 "
                        f"and newer: {where}pip install -e \".[procgen]\"") from None
    return procgen_gym


def version() -> str:
    return procgen_module().__version__


def action_names() -> list[str]:
    """Procgen's 15 actions, named by their keys ("LEFT+UP", "NOOP", ...)."""
    procgen_module()
    from procgen_gym.env import KEY_COMBOS

    return ["+".join(keys) if keys else "NOOP" for keys in KEY_COMBOS]


class Game:
    """One Procgen environment on one level (a level seed); frames resized to (height, width)."""

    def __init__(self, cfg: ProcgenConfig, level: int, height: int = FRAME_SIZE, width: int = FRAME_SIZE):
        pg = procgen_module()
        from procgen_gym.env import ENV_NAMES

        if cfg.game not in ENV_NAMES:
            raise DataError(f"procgen.game={cfg.game!r} is not a Procgen game; the games are {', '.join(ENV_NAMES)}")
        self.size = (height, width)
        # One level: the environment starts it again after an episode ends, never another.
        self._env = pg.ProcgenVecEnv(num_envs=1, env_name=cfg.game, distribution_mode=cfg.distribution_mode,
                                     start_level=level, num_levels=1, rand_seed=level, num_threads=0)
        self._frame = self._resize(self._env.reset()[0][0])

    def _resize(self, frame_HWC: np.ndarray) -> np.ndarray:
        if frame_HWC.shape[:2] == self.size:
            return frame_HWC.copy()
        from PIL import Image

        return np.asarray(Image.fromarray(frame_HWC).resize(self.size[::-1], Image.BOX))

    def frame(self) -> np.ndarray:
        """The frame the game shows now, uint8 [H, W, 3]."""
        return self._frame

    def step(self, action: int) -> tuple[np.ndarray, bool, bool]:
        """(the next frame, whether the episode ended, whether it ended by finishing the level).
        At an episode's end the frame is the level's first again (Procgen starts it at once)."""
        obs, _, first, _, info = self._env.step(np.array([action], np.int32))
        self._frame = self._resize(obs[0])
        return self._frame, bool(first[0]), bool(info["prev_level_complete"][0])

    def snapshot(self) -> tuple[bytes, np.ndarray]:
        """The game's state, with the frame it shows (which Procgen's state does not hold)."""
        return self._env.get_state()[0], self._frame

    def restore(self, snapshot: tuple[bytes, np.ndarray]) -> None:
        state, self._frame = snapshot
        self._env.set_state([state])

    def close(self) -> None:
        self._env.close()
