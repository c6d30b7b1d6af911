"""Clip generation: an exploration policy drives many platformers at once; clips go to shards.

Each shard is one job (genie/data/generation.py). A job's environments run whole episodes back
to back and every episode is cut into consecutive clips of T frames (a partial clip at the end
of an episode is dropped), so clips come from all along the levels, not only their starts.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from genie.config import Config, to_dict
from genie.data import shards
from genie.data.generation import ShardJob, progress_histogram, run_shard_jobs
from genie.data.sources.platformer.env import ACTION_NAMES, VERSION, VecPlatformer
from genie.data.sources.platformer.policy import POLICY_VERSION, ExplorationPolicy


def _run_shard(job: ShardJob) -> dict:
    """Generates one shard; returns its manifest entry plus statistics of its clips."""
    data, game, t_len = job.cfg.data, job.cfg.platformer, job.cfg.data.clip_length
    rng = job.rng()
    num_envs = max(1, min(game.envs_per_worker, job.num_clips))
    env = VecPlatformer(game, num_envs, data.height, data.width)
    policy = ExplorationPolicy(env, rng, game.action_repeat)
    buf_ETHWC = np.zeros((num_envs, t_len, data.height, data.width, 3), np.uint8)
    act_ETm1 = np.zeros((num_envs, t_len - 1), np.int8)
    filled = np.zeros(num_envs, np.int64)  # frames in each env's clip buffer
    clip_t0 = np.zeros(num_envs, np.int64)
    episode = np.zeros(num_envs, np.int64)
    frame_EHWC = np.zeros((num_envs, data.height, data.width, 3), np.uint8)
    next_episode, episodes_done, coins = 0, 0, 0
    records, progress = [], []

    def start(i):
        nonlocal next_episode
        env.reset_env(i, int(rng.integers(*job.seed_range)))
        policy.reset(i)
        episode[i] = job.shard_index * 1_000_000 + next_episode
        next_episode += 1
        filled[i], clip_t0[i] = 0, 0

    def emit(i):
        if len(records) < job.num_clips:
            records.append(shards.encode_clip(
                buf_ETHWC[i], act_ETm1[i], level_seed=int(env.level_seed[i]), episode=int(episode[i]),
                t0=int(clip_t0[i]), progress=round(float(env.progress[i]), 4)))
            progress.append(float(env.progress[i]))

    for i in range(num_envs):
        start(i)
    # Unrecorded warm-up: the environments fall out of step with each other, so the episodes cut
    # short when the shard is full are not all at their levels' starts.
    for _ in range(int(rng.integers(game.max_episode_steps // 4, game.max_episode_steps // 2))):
        _, terminated, truncated = env.step(policy())
        for i in np.flatnonzero(terminated | truncated):
            start(i)
    filled[:], clip_t0[:] = 0, env.t
    env.render(frame_EHWC)
    rows = np.arange(num_envs)
    while len(records) < job.num_clips:
        buf_ETHWC[rows, filled] = frame_EHWC
        filled += 1
        for i in np.flatnonzero(filled == t_len):
            emit(i)
            filled[i], clip_t0[i] = 0, env.t[i] + 1
        actions = policy()
        # The action after a clip's last frame belongs to no clip (clips do not overlap).
        in_clip = filled > 0
        act_ETm1[rows[in_clip], filled[in_clip] - 1] = actions[in_clip]
        reward, terminated, truncated = env.step(actions)
        env.render(frame_EHWC)
        ended = np.flatnonzero(terminated | truncated)
        for i in ended:
            if filled[i] == t_len - 1:  # the episode's last frame completes a clip
                buf_ETHWC[i, -1] = frame_EHWC[i]
                emit(i)
            episodes_done += 1
            coins += int(reward[i] > 0)
            start(i)
        if len(ended):
            env.render(frame_EHWC, ended)
    entry = shards.write_shard(job.path, records)
    return {"entry": entry, "progress": progress, "episodes": episodes_done, "coins": coins}


def _summary(results: list[dict], seed_range: tuple[int, int]) -> dict:
    progress = [p for r in results for p in r["progress"]]
    return {
        "seed_range": list(seed_range),
        "num_clips": int(sum(r["entry"]["num_clips"] for r in results)),
        "shards": [r["entry"] for r in results],
        "episodes_finished": int(sum(r["episodes"] for r in results)),
        "coins_reached": int(sum(r["coins"] for r in results)),
        # How far into its level each clip's last frame is (0 = start, 1 = coin).
        "progress": progress_histogram(progress),
    }


def generate_dataset(cfg: Config, out_dir: str | os.PathLike, log=print) -> dict:
    """Generates every split into out_dir; returns the manifest."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = cfg.data
    results, generation = run_shard_jobs(cfg, out_dir, _run_shard)
    splits = {split: _summary(done, seed_range) for split, (seed_range, done) in results.items()}
    frames = sum(s["num_clips"] for s in splits.values()) * data.clip_length
    manifest = {
        "source": "platformer",
        "platformer_version": VERSION,
        "policy_version": POLICY_VERSION,
        "resolution": [data.height, data.width],
        "clip_length": data.clip_length,
        "has_actions": True,
        "action_names": list(ACTION_NAMES),
        "splits": splits,
        "generation": generation,
        "config": {"name": cfg.name, "platformer": to_dict(cfg.platformer), "data": to_dict(data)},
    }
    shards.write_manifest(out_dir, manifest)
    log(f"wrote {frames} frames in {sum(s['num_clips'] for s in splits.values())} clips to {out_dir} "
        f"in {generation['seconds']:.1f}s ({generation['frames_per_s']:,.0f} frames/s)")
    return manifest
