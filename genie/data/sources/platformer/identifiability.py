"""How well the frames can tell the platformer's actions apart: the reference for the LAM's NMI.

From one state, two actions can give the very same next frame (a jump in the air, a step into
a wall the player already faces): no model of the frames can tell those apart. Running the
exploration policy and trying every action from each state it visits gives, for each recorded
transition, the set of actions whose next frame equals the recorded one. The labelling by that
set is what an ideal latent action model finds when it tells apart exactly the next frames that
differ; its NMI with the true actions is the reference for the LAM's (a model could do a little
better only by guessing from the history which of two indistinguishable actions the policy
pressed).
"""

from __future__ import annotations

import numpy as np

from genie.config import Config
from genie.data.sources.platformer.env import NUM_ACTIONS, VecPlatformer
from genie.data.sources.platformer.policy import ExplorationPolicy


def outcome_sets(env: VecPlatformer) -> np.ndarray:
    """[E, A] int: for each environment and action a, the bit mask of the actions whose next
    frame from the current state equals a's. The environments are left as they were."""
    state = env.get_state()
    frames_AEHWC = []
    for a in range(NUM_ACTIONS):
        env.set_state(state)
        env.step(np.full(env.num_envs, a))
        frames_AEHWC.append(env.render())
    env.set_state(state)
    flat_AEP = np.stack(frames_AEHWC).reshape(NUM_ACTIONS, env.num_envs, -1)
    same_AAE = np.all(flat_AEP[:, None] == flat_AEP[None], axis=-1)
    return np.einsum("abe,b->ea", same_AAE.astype(np.int64), 1 << np.arange(NUM_ACTIONS))


def outcome_labels(cfg: Config, steps: int = 200, num_envs: int = 64, seed: int = 0,
                   level_seeds: tuple[int, int] = (0, 1_000_000)) -> dict:
    """The exploration policy's transitions, `steps` x `num_envs` of them: the true action of
    each ("true_M") and its outcome set as a label ("outcome_M", the bit mask of the actions that
    give the same next frame)."""
    rng = np.random.default_rng(seed)
    env = VecPlatformer(cfg.platformer, num_envs, cfg.data.height, cfg.data.width)
    policy = ExplorationPolicy(env, rng, cfg.platformer.action_repeat)
    for i in range(num_envs):
        env.reset_env(i, int(rng.integers(*level_seeds)))
    true, sets = [], []
    for _ in range(steps):
        actions = policy()
        sets.append(outcome_sets(env)[np.arange(num_envs), actions])
        true.append(actions)
        _, terminated, truncated = env.step(actions)
        for i in np.flatnonzero(terminated | truncated):
            env.reset_env(i, int(rng.integers(*level_seeds)))
            policy.reset(i)
    return {"true_M": np.concatenate(true), "outcome_M": np.concatenate(sets)}
