"""Finding the platformer's player in frames, for object permanence in long play."""

import numpy as np
import pytest

from genie.config import PlatformerConfig
from genie.data.sources.platformer.env import VecPlatformer
from genie.data.sources.platformer.player import find_player
from genie.data.sources.platformer.policy import ExplorationPolicy
from genie.eval.evaluate import player_results


@pytest.mark.parametrize("size,cfg", [(64, PlatformerConfig(style="flat", level_height=8, skyline=True)),
                                      (64, PlatformerConfig()), (32, PlatformerConfig())])
def test_the_player_is_found_where_it_is_drawn_and_not_where_it_is_erased(size, cfg):
    """Frames of every theme along played levels: the player is found at its sprite's place, and
    the same frames drawn without the player are counted as missing it."""
    env = VecPlatformer(cfg, 24, size, size)
    for i in range(24):
        env.reset_env(i, 2_000_000 + i)  # held-out levels, all six themes
    policy = ExplorationPolicy(env, np.random.default_rng(0), cfg.action_repeat)
    erased = {facing: (rgb, np.zeros_like(mask)) for facing, (rgb, mask) in env.sprites.player.items()}
    shown, hidden, sprite = [], [], []
    for _ in range(30):
        env.step(policy())
        shown.append(env.render())
        drawn, env.sprites.player = env.sprites.player, erased
        hidden.append(env.render())
        env.sprites.player = drawn
        # Where the sprite's blue is: the pixels that differ between the two drawings.
        diff = np.any(shown[-1] != hidden[-1], axis=-1)
        sprite.append([np.argwhere(d).mean(0) if d.any() else (np.nan, np.nan) for d in diff])
    shown, hidden = np.concatenate(shown), np.concatenate(hidden)
    present, yx = find_player(shown, env.tp)
    in_view = ~np.isnan(np.concatenate(sprite)[:, 0])
    assert present[in_view].mean() > 0.97 and not present[~in_view].any()
    assert np.nanmax(np.abs(yx[present] - np.concatenate(sprite)[present])) < env.tp / 2
    assert not find_player(hidden, env.tp)[0].any()


def test_player_results_count_a_world_that_keeps_or_loses_its_player():
    p, s = 2, 20
    truth_present = np.ones((p, s), bool)
    truth_present[0, :4] = False  # the real game hides its player at first: those frames do not count
    truth_yx = np.full((p, s, 2), 30.0)
    length = np.array([s, 10])  # the second episode ended after 10 steps
    same = player_results(truth_present, truth_yx, truth_present, truth_yx, length, near=8.0)
    assert same["frames_showing_player"] == 16 + 10 and same["visible"] == same["in_place"] == 1.0
    lost = player_results(truth_present, truth_yx, np.zeros((p, s), bool), np.full((p, s, 2), np.nan), length, 8.0)
    assert lost["visible"] == lost["in_place"] == 0.0
    astray = player_results(truth_present, truth_yx, truth_present, truth_yx + 9.0, length, 8.0)
    assert astray["visible"] == 1.0 and astray["in_place"] == 0.0
    late = np.arange(s)[None].repeat(p, 0) < 16  # the world loses the player after step 16
    half = player_results(truth_present, truth_yx, late, truth_yx, length, 8.0)
    assert half["visible_by_bin"] == {"1-16": 1.0, "17-20": 0.0}
