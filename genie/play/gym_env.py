"""A learned world as a gymnasium environment (genie/LatentAction-v0), so that an agent can be trained inside it.

Observations are the world's frames (uint8 [H, W, 3]), actions its latent actions. A learned
world predicts frames, not rewards: the reward is always 0 and episodes never end by
themselves; wrap it (gymnasium.wrappers.TimeLimit, a reward model) as the task needs.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from genie.play.session import PlaySession


class LatentActionEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, session: PlaySession | None = None, workdir: str | None = None, render_mode: str | None = None):
        """`session`, or the `workdir` of a trained run or exported world (neither: the world that
        ships with genie). reset() starts at a held-out level of the world's data source drawn from
        its seed (where the source has levels), or at options={"prompt": image} (anything
        PlaySession.reset takes)."""
        if session is None:
            from genie.bundle import SHIPPED

            session = PlaySession.load(workdir or SHIPPED)
        self.session, self.render_mode = session, render_mode
        self.observation_space = gym.spaces.Box(0, 255, (session.height, session.width, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(session.num_actions)
        self._frame = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        # The world's sampling is seeded from this env's generator, so equal seeds replay equally.
        self.session.seed = int(self.np_random.integers(2**31))
        prompt = (options or {}).get("prompt")
        if prompt is None:
            self._frame = self.session.reset_to_level()
        else:
            self._frame = self.session.reset(prompt)
        return self._frame.copy(), {}

    def step(self, action):
        self._frame = self.session.step(int(action))
        return self._frame.copy(), 0.0, False, False, {"frame_index": len(self.session.frames) - 1}

    def render(self):
        return None if self._frame is None else self._frame.copy()
