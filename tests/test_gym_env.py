"""The learned world as a gymnasium environment."""

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import genie  # noqa: F401  (registers the environments)
from genie.play.gym_env import LatentActionEnv
from genie.play.session import PlaySession


def test_world_env_passes_check_env_and_replays_by_seed(tiny_run, prompt_png):
    env = LatentActionEnv(PlaySession.load(tiny_run))
    check_env(env, skip_render_check=True)
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=3)
        runs.append([obs] + [env.step(a)[0] for a in (0, 1, 2, 3, 1, 2, 3, 0, 1, 2)])  # past the context of 8
    np.testing.assert_array_equal(np.stack(runs[0]), np.stack(runs[1]))
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs) and reward == 0.0 and not (terminated or truncated)
    obs, _ = env.reset(options={"prompt": prompt_png})
    assert obs.shape == (32, 32, 3)


def test_world_env_is_registered(tiny_run):
    env = gym.make("genie/LatentAction-v0", workdir=str(tiny_run), max_episode_steps=5)
    env.reset(seed=0)
    for _ in range(4):
        assert not env.step(0)[3]
    assert env.step(0)[3]  # the time limit truncates
