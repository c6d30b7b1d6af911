import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from genie import PLATFORMER_ID
from genie.config import ConfigError, PlatformerConfig
from genie.data.sources.platformer import levels as L
from genie.data.sources.platformer.env import ACTION_NAMES, TOP_SPEED, PlatformerEnv, VecPlatformer

RIGHT, JUMP, RIGHT_JUMP = (ACTION_NAMES.index(a) for a in ("right", "jump", "right+jump"))


def test_passes_gymnasium_env_checker():
    check_env(gym.make(PLATFORMER_ID).unwrapped, skip_render_check=False)


def test_observations_are_uint8_frames_at_the_configured_resolution():
    env = PlatformerEnv(PlatformerConfig(tiles_per_view=6), height=48, width=80)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (48, 80, 3) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)


def _rollout(seed, actions):
    env = PlatformerEnv()
    frames = [env.reset(seed=seed)[0]]
    for a in actions:
        obs, _, terminated, truncated, _ = env.step(a)
        frames.append(obs)
        if terminated or truncated:
            break
    return np.stack(frames)


def test_same_seed_same_frames_different_seed_different_level():
    actions = np.random.default_rng(0).integers(0, len(ACTION_NAMES), 60)
    a, b = _rollout(3, actions), _rollout(3, actions)
    np.testing.assert_array_equal(a, b)
    grids = {L.generate_level(s).grid_HW.tobytes() for s in range(20)}
    assert len(grids) == 20
    assert not np.array_equal(_rollout(4, actions)[0], a[0])


def test_levels_have_walls_a_coin_and_varied_features():
    seen = set()
    for seed in range(30):
        level = L.generate_level(seed)
        grid = level.grid_HW
        assert (grid[:, 0] == L.WALL).all() and (grid[:, -1] == L.WALL).all()
        assert (grid == L.COIN).sum() == 1 and grid[:, level.coin_col].tolist().count(L.COIN) == 1
        seen |= set(np.unique(grid).tolist())
        seen.add(("theme", level.theme))
        if (level.enemy_speed_M != 0).any():
            seen.add("enemy")
    for tile in (L.GROUND, L.PLATFORM, L.CRATE, L.SPIKE, L.LAVA):
        assert tile in seen
    assert "enemy" in seen and len([s for s in seen if isinstance(s, tuple)]) >= 4


def _landed(cfg: PlatformerConfig) -> VecPlatformer:
    env = VecPlatformer(cfg, 1)
    env.reset_env(0, 0)
    for _ in range(10):  # land on the ground
        env.step(np.array([0]))
    assert env.on_ground[0]
    return env


def test_physics_speed_gravity_and_jump():
    env = _landed(PlatformerConfig())
    for action, direction in (("right", 1), ("right", 1), ("noop", 0), ("left", -1), ("right", 1)):
        env.step(np.array([ACTION_NAMES.index(action)]))
        assert env.vx[0] == pytest.approx(direction * TOP_SPEED)  # friction 0: the action alone sets the speed
    y0 = env.y[0]
    env.step(np.array([JUMP]))
    assert env.y[0] < y0 and not env.on_ground[0]
    for _ in range(40):
        env.step(np.array([0]))
    assert env.on_ground[0] and env.y[0] == pytest.approx(y0)  # gravity brings it back down


def test_friction_gives_inertia():
    env = _landed(PlatformerConfig(friction=0.25))
    speeds = []
    for _ in range(4):
        env.step(np.array([RIGHT]))
        speeds.append(env.vx[0])
    assert 0 < speeds[0] < speeds[1] < speeds[2] < TOP_SPEED  # speed builds up towards the top speed
    assert speeds[0] * 8 >= 2  # but one step already moves the player two pixels at 8-pixel tiles
    with pytest.raises(ConfigError, match="platformer.friction"):
        VecPlatformer(PlatformerConfig(friction=1.0), 1)


def test_every_action_shows_in_the_very_next_frame():
    """From the same state, one step of each horizontal action gives a different next frame
    (the camera follows the player, so the whole view shifts)."""
    frames = []
    for action in ("noop", "left", "right"):
        env = PlatformerEnv()
        env.reset(seed=0, options={"level_seed": 2})
        for _ in range(20):  # run right at top speed, nothing in the way
            assert not env.step(RIGHT)[2]
        assert env.core.vx[0] == pytest.approx(TOP_SPEED)
        frames.append(env.step(ACTION_NAMES.index(action))[0].astype(int))
    for i in range(3):
        for j in range(i):
            assert np.abs(frames[i] - frames[j]).mean() > 2


def test_scrolling_shows_on_plain_ground():
    """Ground is laid as bricks two tiles wide, so a scroll of a few pixels changes the ground's
    rows of the frame (plain ground would look the same) and is told apart from the scroll the
    other way."""
    env = PlatformerEnv(PlatformerConfig(style="flat", level_height=8))
    env.reset(seed=0, options={"level_seed": 2})
    for _ in range(20):
        env.step(RIGHT)
    before = env.render()[-8:].astype(int)  # the bottom course of bricks
    x0 = env.core.x[0]
    after = env.step(RIGHT)[0][-8:].astype(int)
    shift = round((env.core.x[0] - x0) * env.core.tp)
    assert shift == 3 and np.abs(after - before).mean() > 1  # plain ground: 0
    assert np.array_equal(after[:, :-shift], before[:, shift:])  # the same bricks, scrolled
    assert not np.array_equal(after[:, shift:], before[:, :-shift])  # not the other way


@pytest.mark.parametrize("skyline", [False, True])
def test_scrolling_shows_in_the_sky_with_a_skyline(skyline):
    """`env.skyline`'s towers make a sideways step change the sky along their upright edges, over
    the height of the view; a plain sky stays alike. Off, the levels are drawn as before it."""
    env = PlatformerEnv(PlatformerConfig(style="flat", level_height=8, skyline=skyline))
    starry = next(seed for seed in range(100) if L.generate_level(seed).theme == 1)  # no other decoration
    env.reset(seed=0, options={"level_seed": starry})
    for _ in range(20):
        env.step(RIGHT)
    sky = slice(8, 32)  # above the ground and the player
    before = env.render()[sky].astype(int)
    after = env.step(RIGHT)[0][sky].astype(int)
    changed_columns = np.any(after != before, axis=(0, 2))
    assert changed_columns.mean() > 0.1 if skyline else not changed_columns.any()
    assert np.array_equal(after[:, :-3], before[:, 3:])  # the same sky, scrolled by the step


def test_the_flat_style_has_no_pixel_grain_or_stars():
    def level_image(style):
        env = VecPlatformer(PlatformerConfig(style=style), 1)
        for seed in range(100):  # a level with the starry theme
            if L.generate_level(seed).theme == 1:
                break
        env.reset_env(0, seed)
        return env.images[0].astype(int)

    detailed, flat = level_image("detailed"), level_image("flat")
    # In the flat sky, colours change along a row only at the edges of tiles, towers and sprites,
    # never at a lone pixel unlike both of its neighbours, as scattered stars make them.
    def isolated(image):
        rows = image[:16]
        left, right = (np.abs(rows[:, 1:-1] - rows[:, s]).sum(-1) > 60 for s in (slice(0, -2), slice(2, None)))
        return (left & right).sum()

    assert isolated(detailed) > 50 and isolated(flat) == 0
    assert not np.array_equal(detailed, flat)
    with pytest.raises(ConfigError, match="platformer.style"):
        VecPlatformer(PlatformerConfig(style="pixel-art"), 1)


def test_falling_into_a_pit_ends_the_episode():
    env = VecPlatformer(PlatformerConfig(), 1)
    env.reset_env(0, 0)
    env.x[0], env.y[0] = 3.0, float(PlatformerConfig().level_height) + 0.5  # below the level
    _, terminated, _ = env.step(np.array([0]))
    assert terminated[0]


def test_reaching_the_coin_pays_and_terminates():
    env = PlatformerEnv()
    env.reset(options={"level_seed": 5})
    core = env.core
    col = int(core.coin_col[0])
    row = int(np.flatnonzero(core.grid[0, :, col] == L.COIN)[0])
    core.x[0], core.y[0] = col + 0.1, row + 0.05
    _, reward, terminated, truncated, info = env.step(0)
    assert reward > 0 and terminated and not truncated and info["progress"] == 1.0


def test_time_limit_truncates():
    env = PlatformerEnv(PlatformerConfig(max_episode_steps=5))
    env.reset(seed=1)
    done = [env.step(0)[2:4] for _ in range(5)]
    assert done[-1] == (False, True) and all(d == (False, False) for d in done[:-1])


def test_bad_action_and_too_small_view_are_clear_errors():
    env = PlatformerEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not in 0..5"):
        env.step(9)
    with pytest.raises(ConfigError, match="tiles under 2 pixels"):
        VecPlatformer(PlatformerConfig(tiles_per_view=10), 1, height=16)
