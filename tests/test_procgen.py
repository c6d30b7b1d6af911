"""The Procgen data source on real CoinRun (skipped where procgen-gym is not installed: it has
wheels for Python 3.13 and newer only)."""

import sys

import numpy as np
import pytest

from genie.config import override
from genie.data import shards
from genie.data.dataset import prepare_dataset
from genie.data.shards import DataError

pytest.importorskip("procgen_gym")

from genie.data.sources.procgen.game import Game, action_names  # noqa: E402
from genie.data.sources.procgen.generate import clip_starts  # noqa: E402
from genie.data.sources.procgen.identifiability import outcome_set  # noqa: E402
from genie.data.sources.procgen.policy import play_episode  # noqa: E402

EXPLORER = {"data.source": "procgen", "procgen.policy": "explorer", "procgen.favoured_actions": ("RIGHT", "RIGHT+UP"),
            "procgen.favour": 0.6, "procgen.action_repeat": (1, 8), "procgen.clips_per_episode": 4}


@pytest.fixture(scope="module")
def coinrun_cfg(tiny_cfg):
    return override(tiny_cfg, EXPLORER)


@pytest.fixture(scope="module")
def coinrun_data(coinrun_cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("coinrun")
    prepare_dataset(coinrun_cfg, out, log=lambda *_: None)
    return out


def test_a_coinrun_dataset_holds_real_clips_with_actions_on_disjoint_levels(coinrun_cfg, coinrun_data):
    manifest = shards.read_manifest(coinrun_data)
    assert manifest["source"] == "procgen" and manifest["game"] == "coinrun"
    assert manifest["action_names"] == action_names() and len(action_names()) == 15
    levels = {}
    for split in shards.SPLITS:
        source = shards.ClipSource(coinrun_data, split)
        assert len(source) == getattr(coinrun_cfg.data, f"{split}_clips")
        clips = [source[i] for i in range(len(source))]
        assert all(c["frames_THWC"].shape == (8, 32, 32, 3) for c in clips)
        assert all(0 <= c["actions_Tm1"].min() and c["actions_Tm1"].max() < 15 for c in clips)
        low, high = getattr(coinrun_cfg.data, f"{split}_seeds")
        levels[split] = {c["level_seed"] for c in clips}
        assert all(low <= level < high for level in levels[split])
        # Frames move: a clip is not one picture repeated.
        assert np.mean([np.abs(np.diff(c["frames_THWC"].astype(int), axis=0)).mean() > 0 for c in clips]) > 0.9
    assert not levels["train"] & levels["test"] and not levels["train"] & levels["val"]
    # The explorer finishes levels, and the manifest says how far into them clips reach.
    train = manifest["splits"]["train"]
    assert train["levels_completed"] > 0 and train["clips_of_completed_levels"] > 0
    assert sum(train["progress"]["counts"]) == train["clips_of_completed_levels"]
    assert (coinrun_data / "preview.gif").exists()


def test_the_explorers_episode_is_one_the_game_plays_again_from_its_actions(coinrun_cfg):
    level = 10  # a level on which the explorer, drawing with this seed, loses lives
    episode = play_episode(override(coinrun_cfg, {"procgen.max_episode_steps": 300}).procgen, level,
                           np.random.default_rng(level), 64, 64)
    assert episode.backtracks > 0  # lives were lost and given back: the kept trajectory skips them
    game = Game(coinrun_cfg.procgen, level)
    replayed = [game.frame()] + [game.step(int(a))[0] for a in episode.actions_Tm1]
    game.close()
    np.testing.assert_array_equal(np.stack(replayed), episode.frames_THWC)


def test_the_random_policy_keeps_its_first_lost_life(coinrun_cfg):
    cfg = override(coinrun_cfg, {"procgen.policy": "random", "procgen.favoured_actions": (), "procgen.favour": 0.0,
                                 "procgen.action_repeat": (1, 1)}).procgen
    episodes = [play_episode(cfg, level, np.random.default_rng(level), 64, 64) for level in range(6)]
    assert all(e.backtracks == 0 for e in episodes)
    assert all(len(e.frames_THWC) == len(e.actions_Tm1) + 1 for e in episodes)


def test_clips_do_not_overlap_and_fit_their_episode():
    rng = np.random.default_rng(0)
    for n, limit in [(100, None), (100, 3), (7, None), (8, 4), (1000, 2)]:
        starts = clip_starts(n, 8, limit, rng)
        assert len(starts) == min(n // 8, limit or n)
        assert all(b - a >= 8 for a, b in zip(starts, starts[1:])) and all(0 <= s <= n - 8 for s in starts)


def test_which_coinrun_actions_the_frames_cannot_tell_apart(coinrun_cfg):
    """Standing on the ground at a level's start: the six letter keys and DOWN do what NOOP does,
    LEFT+DOWN what LEFT does, RIGHT+DOWN what RIGHT does; a jump differs from everything else."""
    names = action_names()
    game = Game(coinrun_cfg.procgen, 2_000_017)
    for _ in range(10):
        game.step(names.index("NOOP"))  # land after the start
    sets = outcome_set(game, len(names))
    game.close()
    alike = lambda name: {names[b] for b in range(len(names)) if sets[names.index(name)] >> b & 1}
    assert alike("NOOP") == {"NOOP", "DOWN", "D", "A", "W", "S", "Q", "E"}
    assert alike("LEFT") == {"LEFT", "LEFT+DOWN"} and alike("RIGHT") == {"RIGHT", "RIGHT+DOWN"}
    assert alike("UP") == {"UP"} and alike("RIGHT+UP") == {"RIGHT+UP"}


def test_a_dataset_of_another_policy_is_refused_not_replaced(coinrun_cfg, coinrun_data):
    before = (coinrun_data / shards.MANIFEST).read_bytes()
    with pytest.raises(DataError, match=r"procgen.favour: 0.6 there, 0.9 wanted"):
        prepare_dataset(override(coinrun_cfg, {"procgen.favour": 0.9}), coinrun_data, log=lambda *_: None)
    assert (coinrun_data / shards.MANIFEST).read_bytes() == before


def test_bad_settings_are_refused_with_what_is_allowed(coinrun_cfg, tmp_path):
    with pytest.raises(DataError, match="not a Procgen game.*coinrun"):
        prepare_dataset(override(coinrun_cfg, {"procgen.game": "coinrunn"}), tmp_path / "a", log=lambda *_: None)
    with pytest.raises(DataError, match="not Procgen actions.*RIGHT\\+UP"):
        prepare_dataset(override(coinrun_cfg, {"procgen.favoured_actions": ("JUMP",)}), tmp_path / "b",
                        log=lambda *_: None)


def test_without_procgen_gym_the_source_says_how_to_install_it(coinrun_cfg, tmp_path, monkeypatch):
    for name in ("procgen_gym", "procgen_gym.env"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(DataError, match=r'pip install -e "\.\[procgen\]"'):
        prepare_dataset(coinrun_cfg, tmp_path / "d", log=lambda *_: None)
    assert not (tmp_path / "d").exists()


def test_train_script_runs_every_stage_on_coinrun_and_evaluates_it(coinrun_cfg, coinrun_data, tmp_path):
    """`scripts/train.py --stage all` on the tiny CoinRun dataset: every stage, then an evaluation
    whose latent actions are read against CoinRun's true ones and the game's own reference; then
    the world played from a held-out level."""
    import json
    import subprocess

    from tests.conftest import ROOT

    flags = ["--config.data.source=procgen", "--config.procgen.policy=explorer", "--config.procgen.favoured_actions",
             "RIGHT", "RIGHT+UP", "--config.procgen.favour=0.6", "--config.procgen.action_repeat", "1", "8",
             "--config.procgen.clips_per_episode=4"]
    result = subprocess.run([sys.executable, "scripts/train.py", "--config", "configs/tiny.py", "--stage", "all",
                             "--workdir", str(tmp_path / "run"), f"--config.data.dir={coinrun_data}", *flags],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "keeping it" in result.stdout  # the dataset made above serves this config
    results = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert results["lam"]["true_actions"] == action_names()
    assert 0 < results["lam"]["reference"]["nmi"] <= 1
    assert "delta_psnr_t4" in results["dynamics"]
    assert results["dynamics"]["long_play"]["frames_scored"] > 0  # beside real CoinRun
    assert (tmp_path / "run" / "eval" / "report.md").exists()
    # Play starts at a held-out CoinRun level, the game's own first frame, and takes its actions by name.
    from genie.play.controls import parse_actions
    from genie.play.session import PlaySession

    session = PlaySession.load(tmp_path / "run")
    level = 2_000_005
    first = Game(coinrun_cfg.procgen, level, 32, 32)
    np.testing.assert_array_equal(session.reset_to_level(level), first.frame())
    first.close()
    frames = [session.step(a) for a in parse_actions("RIGHT,RIGHT+UP,NOOP", session)]
    assert len(frames) == 3 and frames[-1].shape == (32, 32, 3)


def test_the_paper_configs_data_generation_at_small_counts(tmp_path):
    """configs/coinrun.py's dataset (Genie's: hard mode, the random agent, 16-frame 64x64 clips,
    training levels 0-10,000), at a few clips a split."""
    from genie.config import load_config
    from tests.conftest import ROOT

    cfg = override(load_config(ROOT / "configs" / "coinrun.py"),
                   {"data.train_clips": 6, "data.val_clips": 2, "data.test_clips": 2, "data.workers": 1})
    manifest = prepare_dataset(cfg, tmp_path / "d", log=lambda *_: None)
    train = manifest["splits"]["train"]
    assert train["num_clips"] == 6 and train["backtracks"] == 0 and train["seed_range"] == [0, 10_000]
    clip = shards.ClipSource(tmp_path / "d", "train")[0]
    assert clip["frames_THWC"].shape == (16, 64, 64, 3) and 0 <= clip["level_seed"] < 10_000
