import numpy as np

from genie.config import PlatformerConfig
from genie.data.sources.platformer import levels as L
from genie.data.sources.platformer.env import ACTION_NAMES, VecPlatformer
from genie.data.sources.platformer.identifiability import outcome_labels, outcome_sets
from genie.eval.evaluate import identifiability_reference

A = {name: i for i, name in enumerate(ACTION_NAMES)}


def _groups(sets_A) -> set[frozenset[str]]:
    return {frozenset(name for name, a in A.items() if mask >> a & 1) for mask in sets_A}


def _env(x, height=0.0, vx=0.0, vy=0.0, on_ground=True, facing=1):
    """The player at column x, `height` tiles above the ground there, enemies gone."""
    env = VecPlatformer(PlatformerConfig(min_level_length=24, max_level_length=40), 1, 32, 32)
    env.reset_env(0, 3)
    ground = min(r for r in range(env.grid.shape[1]) if L.SOLID[env.grid[0, r, int(x)]])
    state = env.get_state()
    state.update(x=np.array([x]), y=np.array([ground - L.PLAYER_SIZE[1] - height]), vx=np.array([vx]),
                 vy=np.array([vy]), on_ground=np.array([on_ground]), facing=np.array([facing]),
                 enemy_speed=np.zeros((1, 4)))
    env.set_state(state)
    return env


def test_on_open_ground_every_action_shows():
    env = _env(x=6.0)
    assert _groups(outcome_sets(env)[0]) == {frozenset([name]) for name in A}


def test_in_the_air_a_jump_is_the_same_action_without_it():
    env = _env(x=6.0, height=2.5, vy=-0.3, on_ground=False)
    assert _groups(outcome_sets(env)[0]) == {frozenset(["noop", "jump"]), frozenset(["left", "left+jump"]),
                                             frozenset(["right", "right+jump"])}


def test_walking_into_the_wall_already_faced_is_standing_still():
    env = _env(x=1.0, facing=-1)  # against the level's left wall, facing it
    before = env.get_state()
    groups = _groups(outcome_sets(env)[0])
    assert frozenset(["noop", "left"]) in groups and frozenset(["right"]) in groups
    for name, value in env.get_state().items():  # trying the actions left the state alone
        np.testing.assert_array_equal(value, before[name])


def test_the_policy_data_is_mostly_identifiable(tiny_cfg):
    probe = outcome_labels(tiny_cfg, steps=30, num_envs=8)
    ref = identifiability_reference(probe, len(ACTION_NAMES))
    assert ref["transitions"] == 240
    assert 0.0 < ref["nmi"] <= 1.0 and ref["purity"] > 0.8 and 0.0 <= ref["with_twin"] <= 1.0
