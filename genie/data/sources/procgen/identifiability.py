"""How well a Procgen game's frames tell its actions apart: the reference for the LAM's NMI.

Procgen has 15 actions, and in most games several do the same thing (in CoinRun the keys D, A,
W, S, Q and E do nothing, DOWN does nothing, LEFT+DOWN is LEFT), and from a given state more
coincide (every jump in the air). The data policy plays; from each state it reaches, every action
is tried (the game's state saved and restored) and the recorded transition is labelled by the
set of actions whose next frame equals its own (as for the platformer,
genie/data/sources/platformer/identifiability.py)."""

from __future__ import annotations

import numpy as np

from genie.config import Config
from genie.data.sources.procgen.game import Game
from genie.data.sources.procgen.policy import HeldRandomActions


def outcome_set(game: Game, num_actions: int) -> np.ndarray:
    """[A] int: for each action a, the bit mask of the actions whose next frame from the game's
    current state equals a's. The game is left as it was."""
    snapshot = game.snapshot()
    frames_AP = []
    for a in range(num_actions):
        game.restore(snapshot)
        frames_AP.append(game.step(a)[0].reshape(-1))
    game.restore(snapshot)
    frames_AP = np.stack(frames_AP)
    same_AA = np.all(frames_AP[:, None] == frames_AP[None], axis=-1)
    return same_AA.astype(np.int64) @ (1 << np.arange(num_actions))


def outcome_labels(cfg: Config, steps: int = 128, seed: int = 0) -> dict:
    """The data policy's transitions, up to `steps` a level on as many training levels as give
    about one transition per transition evaluated (eval.clips clips): the true action of each
    ("true_M") and its outcome set as a label ("outcome_M")."""
    episodes = -(-cfg.eval.clips * (cfg.data.clip_length - 1) // steps)
    rng = np.random.default_rng(seed)
    policy = HeldRandomActions(cfg.procgen, rng)
    true, sets = [], []
    for _ in range(episodes):
        game = Game(cfg.procgen, int(rng.integers(*cfg.data.train_seeds)), cfg.data.height, cfg.data.width)
        policy.reset()
        try:
            for _ in range(steps):
                action = policy()
                sets.append(outcome_set(game, policy.num_actions)[action])
                true.append(action)
                if game.step(action)[1]:
                    break
        finally:
            game.close()
    return {"true_M": np.asarray(true), "outcome_M": np.asarray(sets)}
