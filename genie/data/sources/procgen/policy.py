"""The policies that play Procgen games to make data: random actions, each held a few steps,
some favoured by name; and the explorer, which undoes a lost life by restoring the game's state
from a little earlier, so that its episodes go on towards their levels' ends (a random agent
rarely leaves the start, and models trained on its clips learn little but the start)."""

from __future__ import annotations

import dataclasses

import numpy as np

from genie.config import ProcgenConfig
from genie.data.shards import DataError
from genie.data.sources.procgen.game import Game, action_names

SNAPSHOT_EVERY = 4  # steps between the explorer's saved states


class HeldRandomActions:
    """Draws an action (a favoured one with probability cfg.favour, else any) and holds it for a
    number of steps drawn from cfg.action_repeat."""

    def __init__(self, cfg: ProcgenConfig, rng: np.random.Generator):
        names = action_names()
        unknown = [n for n in cfg.favoured_actions if n not in names]
        if unknown:
            raise DataError(f"procgen.favoured_actions names {unknown}, which are not Procgen actions; they are "
                            f"{', '.join(names)}")
        self.cfg, self.rng, self.num_actions = cfg, rng, len(names)
        self.favoured = [names.index(n) for n in cfg.favoured_actions]
        self.reset()

    def reset(self) -> None:
        self.action, self.left = 0, 0

    def __call__(self) -> int:
        if self.left == 0:
            if self.favoured and self.rng.random() < self.cfg.favour:
                self.action = int(self.rng.choice(self.favoured))
            else:
                self.action = int(self.rng.integers(self.num_actions))
            self.left = int(self.rng.integers(self.cfg.action_repeat[0], self.cfg.action_repeat[1] + 1))
        self.left -= 1
        return self.action


@dataclasses.dataclass
class Episode:
    frames_THWC: np.ndarray
    actions_Tm1: np.ndarray
    completed: bool  # it ended by finishing its level
    backtracks: int  # lives the explorer gave back


def play_episode(cfg: ProcgenConfig, level: int, rng: np.random.Generator, height: int, width: int) -> Episode:
    """One episode of `level` by cfg.policy, up to cfg.max_episode_steps frames. The frame on which
    a life is lost or the level is finished is not kept (Procgen shows the next episode's first)."""
    game = Game(cfg, level, height, width)
    policy = HeldRandomActions(cfg, rng)
    frames, actions, snapshots = [game.frame()], [], [(0, game.snapshot())]
    completed, backtracks = False, 0
    try:
        while len(frames) < cfg.max_episode_steps:
            action = policy()
            frame, ended, completed = game.step(action)
            if not ended:
                frames.append(frame)
                actions.append(action)
                if cfg.policy == "explorer" and (len(frames) - 1) % SNAPSHOT_EVERY == 0:
                    snapshots.append((len(frames) - 1, game.snapshot()))
                continue
            if completed or cfg.policy != "explorer" or backtracks == cfg.max_backtracks:
                break
            # A life lost: back to the latest saved state at least cfg.backtrack steps earlier.
            backtracks += 1
            target = max(0, len(frames) - 1 - cfg.backtrack)
            while snapshots[-1][0] > target:
                snapshots.pop()
            t, snapshot = snapshots[-1]
            game.restore(snapshot)
            del frames[t + 1:], actions[t:]
            policy.reset()
    finally:
        game.close()
    return Episode(np.stack(frames), np.asarray(actions, np.int64), completed, backtracks)
