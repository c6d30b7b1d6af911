import json

import numpy as np
import pytest

from genie.config import override
from genie.data import shards
from genie.data.dataset import prepare_dataset
from genie.data.shards import PREVIEW
from genie.data.sources.platformer.env import _ACTION_JUMP, PlatformerEnv, VecPlatformer
from genie.data.sources.platformer.env import VERSION as PLATFORMER_VERSION
from genie.data.sources.platformer.generate import generate_dataset
from genie.data.sources.platformer.policy import POLICY_VERSION, ExplorationPolicy


def _all_clips(data_dir, split):
    source = shards.ClipSource(data_dir, split)
    return [source[i] for i in range(len(source))]


def test_manifest_counts_resolution_and_progress(tiny_cfg, tiny_data):
    manifest = shards.read_manifest(tiny_data)
    assert manifest["resolution"] == [tiny_cfg.data.height, tiny_cfg.data.width]
    assert manifest["clip_length"] == tiny_cfg.data.clip_length and manifest["has_actions"]
    for split in shards.SPLITS:
        info = manifest["splits"][split]
        assert info["num_clips"] == getattr(tiny_cfg.data, f"{split}_clips")
        assert sum(s["num_clips"] for s in info["shards"]) == info["num_clips"]
        assert sum(info["progress"]["counts"]) == info["num_clips"]
        assert all(len(s["sha256"]) == 64 for s in info["shards"])
    assert (tiny_data / PREVIEW).stat().st_size > 0


def test_clips_have_frames_actions_and_metadata(tiny_cfg, tiny_data):
    clip = _all_clips(tiny_data, "train")[0]
    t = tiny_cfg.data.clip_length
    assert clip["frames_THWC"].shape == (t, tiny_cfg.data.height, tiny_cfg.data.width, 3)
    assert clip["frames_THWC"].dtype == np.uint8
    assert clip["actions_Tm1"].shape == (t - 1,) and set(clip["actions_Tm1"]) <= set(range(6))
    assert {"level_seed", "episode", "t0", "progress"} <= set(clip)


def test_splits_use_disjoint_level_seeds(tiny_cfg, tiny_data):
    seeds = {}
    for split in shards.SPLITS:
        lo, hi = getattr(tiny_cfg.data, f"{split}_seeds")
        seeds[split] = {c["level_seed"] for c in _all_clips(tiny_data, split)}
        assert all(lo <= s < hi for s in seeds[split])
    assert not seeds["train"] & seeds["val"] and not seeds["train"] & seeds["test"]
    assert not seeds["val"] & seeds["test"]


def test_action_t_leads_from_frame_t_to_frame_t_plus_1(tiny_cfg, tmp_path):
    """Replaying a clip's actions from its episode's start reproduces its frames exactly."""
    # One environment running many steps goes through several episodes.
    cfg = override(tiny_cfg, {"platformer.envs_per_worker": 1, "data.clips_per_shard": 48})
    generate_dataset(cfg, tmp_path, log=lambda *_: None)
    starts = [c for c in _all_clips(tmp_path, "train") if c["t0"] == 0]
    assert starts, "no clip starts an episode"
    for clip in starts[:3]:
        env = PlatformerEnv(tiny_cfg.platformer, height=tiny_cfg.data.height, width=tiny_cfg.data.width)
        frames = [env.reset(options={"level_seed": clip["level_seed"]})[0]]
        for action in clip["actions_Tm1"]:
            frames.append(env.step(int(action))[0])
        np.testing.assert_array_equal(np.stack(frames), clip["frames_THWC"])


def test_same_dataset_whatever_the_number_of_workers(tiny_cfg, tiny_data, tmp_path):
    cfg = override(tiny_cfg, {"data.workers": 2})
    manifest = generate_dataset(cfg, tmp_path, log=lambda *_: None)
    reference = shards.read_manifest(tiny_data)
    for split in shards.SPLITS:
        ours = [s["sha256"] for s in manifest["splits"][split]["shards"]]
        assert ours == [s["sha256"] for s in reference["splits"][split]["shards"]]


def test_clips_reach_deep_into_levels(tiny_cfg, tmp_path):
    cfg = override(tiny_cfg, {"data.train_clips": 256, "data.clips_per_shard": 256, "platformer.envs_per_worker": 8})
    progress = generate_dataset(cfg, tmp_path, log=lambda *_: None)["splits"]["train"]["progress"]
    assert progress["fraction_past_half"] > 0.15  # not stuck at the level starts
    assert progress["counts"][-1] > 0  # some clips reach the coin's end of the level


def test_existing_dataset_is_kept_or_refused(tiny_cfg, tiny_data):
    manifest = prepare_dataset(tiny_cfg, tiny_data, log=lambda *_: None)
    assert manifest == json.loads((tiny_data / shards.MANIFEST).read_text())
    with pytest.raises(shards.DataError, match=r"another config \(data.train_clips: 48 there, 50 wanted"):
        prepare_dataset(override(tiny_cfg, {"data.train_clips": 50}), tiny_data)
    try:
        for field, message in [("platformer_version", f"platformer version 1 there, {PLATFORMER_VERSION} wanted"),
                               ("policy_version", f"policy version 1 there, {POLICY_VERSION} wanted")]:
            older = {k: v for k, v in manifest.items() if k != field}
            (tiny_data / shards.MANIFEST).write_text(json.dumps(older))
            with pytest.raises(shards.DataError, match=message):
                prepare_dataset(tiny_cfg, tiny_data)
        # A manifest from before a field existed is kept where the field is at its default...
        game = {k: v for k, v in manifest["config"]["platformer"].items() if k != "skyline"}
        config = {**manifest["config"], "platformer": game}
        (tiny_data / shards.MANIFEST).write_text(json.dumps({**manifest, "config": config}))
        assert prepare_dataset(tiny_cfg, tiny_data, log=lambda *_: None)["config"] == config
        # ...and refused where it is not.
        with pytest.raises(shards.DataError, match="platformer.skyline: False there, True wanted"):
            prepare_dataset(override(tiny_cfg, {"platformer.skyline": True}), tiny_data)
        # A manifest of the layout before sources (the game and the frame size in one `env` section) is read.
        data = manifest["config"]["data"]
        old_layout = {"name": "tiny", "env": {**game, "height": data["height"], "width": data["width"], "frame_skip": 1},
                      "data": {k: v for k, v in data.items() if k not in ("height", "width", "source")}}
        old_layout["data"]["envs_per_worker"] = old_layout["env"].pop("envs_per_worker")
        (tiny_data / shards.MANIFEST).write_text(json.dumps({**manifest, "config": old_layout}))
        assert prepare_dataset(tiny_cfg, tiny_data, log=lambda *_: None)["config"] == old_layout
    finally:
        (tiny_data / shards.MANIFEST).write_text(json.dumps(manifest))


def test_policy_presses_jump_only_where_it_acts(tiny_cfg):
    """In the air a jump action moves the player exactly like the same action without it, so the
    policy never records one there; on the ground it jumps (over obstacles and at random)."""
    env = VecPlatformer(tiny_cfg.platformer, 16, tiny_cfg.data.height, tiny_cfg.data.width)
    policy = ExplorationPolicy(env, np.random.default_rng(0), tiny_cfg.platformer.action_repeat)
    for i in range(16):
        env.reset_env(i, i)
    jumps_on_ground = 0
    for _ in range(300):
        actions = policy()
        assert not np.any(_ACTION_JUMP[actions] & ~env.on_ground)
        jumps_on_ground += int(np.sum(_ACTION_JUMP[actions]))
        _, terminated, truncated = env.step(actions)
        for i in np.flatnonzero(terminated | truncated):
            env.reset_env(i, 100 + i)
            policy.reset(i)
    assert jumps_on_ground > 50
