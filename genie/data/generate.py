"""Clip generation: an exploration policy drives many platformers at once; clips go to shards.

Each shard is one job, seeded by (data seed, split, shard index), so a dataset is the same
whatever the number of worker processes. A job's environments run whole episodes back to back
and every episode is cut into consecutive clips of T frames (a partial clip at the end of an
episode is dropped), so clips come from all along the levels, not only their starts.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pathlib
import time

import numpy as np

from genie.config import Config, DataConfig, EnvConfig, to_dict
from genie.data import shards
from genie.envs import levels as L
from genie.envs.platformer import _ACTION_DX, ACTION_NAMES, NUM_ACTIONS, TOP_SPEED, VecPlatformer
from genie.envs.platformer import VERSION as PLATFORMER_VERSION

# Base action mix of the exploration policy: right-leaning, every action well represented.
_ACTION_P = np.array([0.1, 0.14, 0.3, 0.1, 0.1, 0.26])
_RIGHT_JUMP = ACTION_NAMES.index("right+jump")
_LEFT_JUMP = ACTION_NAMES.index("left+jump")
_JUMP_HOLD = 13  # steps: a little less than a jump spends in the air
# The same action without its jump: what the policy presses in the air, where jumping does nothing.
_NO_JUMP = np.array([ACTION_NAMES.index(name.replace("+jump", "").replace("jump", "noop")) for name in ACTION_NAMES])
# The same action the other way round: what the policy presses at a level's end walls.
_SWAP = {"left": "right", "right": "left"}
_TURNED = np.array([ACTION_NAMES.index("+".join(_SWAP.get(k, k) for k in name.split("+"))) for name in ACTION_NAMES])
# Raised whenever the policy changes what it records, so that an older dataset is not reused.
POLICY_VERSION = 3
PROGRESS_BINS = 10


class ExplorationPolicy:
    """Random actions held for a random number of steps, with a bias towards progress: facing a
    pit, hazard, enemy or wall, it usually jumps over it in the direction it is moving; at a
    level's end walls it turns round (walking into them would record steps that change nothing)."""

    def __init__(self, env: VecPlatformer, rng: np.random.Generator, repeat: tuple[int, int],
                 jump_when_blocked: float = 0.9):
        self.env, self.rng, self.repeat = env, rng, repeat
        self.jump_when_blocked = jump_when_blocked
        self.action = rng.choice(NUM_ACTIONS, env.num_envs, p=_ACTION_P)
        self.left = np.zeros(env.num_envs, np.int64)

    def reset(self, i: int) -> None:
        self.left[i] = 0

    def _obstacle_ahead(self, direction: np.ndarray) -> np.ndarray:
        env, grid = self.env, self.env.grid
        rows = np.arange(env.num_envs)
        feet = np.clip(np.floor(env.y + L.PLAYER_SIZE[1] - 0.05).astype(int), 0, grid.shape[1] - 2)
        front = np.where(direction > 0, env.x + L.PLAYER_SIZE[0], env.x)
        blocked = np.zeros(env.num_envs, bool)
        for dist in (0.3, 1.0, 1.7):  # looks further than one step at top speed
            col = np.clip(np.floor(front + direction * dist).astype(int), 0, grid.shape[2] - 1)
            at_feet, below = grid[rows, feet, col], grid[rows, feet + 1, col]
            blocked |= L.SOLID[at_feet] | L.HAZARD[at_feet] | L.HAZARD[below] | ~L.SOLID[below]
        enemy_dx = (env.enemies[..., 0] - env.x[:, None]) * direction[:, None]
        blocked |= ((enemy_dx > -0.5) & (enemy_dx < 2.5) & (env.enemy_speed != 0)).any(axis=1)
        return blocked

    def __call__(self) -> np.ndarray:
        n = self.env.num_envs
        renew = self.left <= 0
        self.action = np.where(renew, self.rng.choice(NUM_ACTIONS, n, p=_ACTION_P), self.action)
        self.left = np.where(renew, self.rng.integers(self.repeat[0], self.repeat[1] + 1, n), self.left) - 1
        dx = _ACTION_DX[self.action]
        at_end = (((dx < 0) & (self.env.x - TOP_SPEED < 1))
                  | ((dx > 0) & (self.env.x + L.PLAYER_SIZE[0] + TOP_SPEED > self.env.length - 1)))
        self.action = np.where(at_end, _TURNED[self.action], self.action)
        direction = np.where(_ACTION_DX[self.action] != 0, _ACTION_DX[self.action], self.env.facing)
        jump = (self._obstacle_ahead(direction) & self.env.on_ground
                & (self.rng.random(n) < self.jump_when_blocked))
        # A jump over an obstacle is held until the landing, so the player does not turn mid-air.
        self.action = np.where(jump, np.where(direction > 0, _RIGHT_JUMP, _LEFT_JUMP), self.action)
        self.left = np.where(jump, _JUMP_HOLD, self.left)
        # In the air a jump action acts exactly like the same action without it, so recording it
        # would label identical transitions differently; the policy lets go of jump there.
        self.action = np.where(self.env.on_ground, self.action, _NO_JUMP[self.action])
        return self.action


@dataclasses.dataclass(frozen=True)
class ShardJob:
    path: pathlib.Path
    split_index: int
    shard_index: int
    num_clips: int
    seed_range: tuple[int, int]
    env: EnvConfig
    data: DataConfig


def _run_shard(job: ShardJob) -> dict:
    """Generates one shard; returns its manifest entry plus statistics of its clips."""
    data, t_len = job.data, job.data.clip_length
    rng = np.random.default_rng([data.seed, job.split_index, job.shard_index])
    num_envs = max(1, min(data.envs_per_worker, job.num_clips))
    env = VecPlatformer(job.env, num_envs)
    policy = ExplorationPolicy(env, rng, data.action_repeat)
    buf_ETHWC = np.zeros((num_envs, t_len, job.env.height, job.env.width, 3), np.uint8)
    act_ETm1 = np.zeros((num_envs, t_len - 1), np.int8)
    filled = np.zeros(num_envs, np.int64)  # frames in each env's clip buffer
    clip_t0 = np.zeros(num_envs, np.int64)
    episode = np.zeros(num_envs, np.int64)
    frame_EHWC = np.zeros((num_envs, job.env.height, job.env.width, 3), np.uint8)
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
    for _ in range(int(rng.integers(job.env.max_episode_steps // 4, job.env.max_episode_steps // 2))):
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


def _summary(results: list[dict], split_cfg: dict) -> dict:
    progress = np.concatenate([np.asarray(r["progress"], np.float64) for r in results]) if results else np.zeros(0)
    counts, edges = np.histogram(progress, bins=PROGRESS_BINS, range=(0.0, 1.0))
    return {
        **split_cfg,
        "num_clips": int(sum(r["entry"]["num_clips"] for r in results)),
        "shards": [r["entry"] for r in results],
        "episodes_finished": int(sum(r["episodes"] for r in results)),
        "coins_reached": int(sum(r["coins"] for r in results)),
        # How far into its level each clip's last frame is (0 = start, 1 = coin).
        "progress": {
            "bin_edges": [round(float(e), 2) for e in edges],
            "counts": counts.tolist(),
            "mean": round(float(progress.mean()), 4) if len(progress) else None,
            "fraction_past_half": round(float((progress >= 0.5).mean()), 4) if len(progress) else None,
        },
    }


def generate_dataset(cfg: Config, out_dir: str | os.PathLike, log=print) -> dict:
    """Generates every split into out_dir; returns the manifest."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = cfg.data
    jobs, layout = [], {}
    for split_index, split in enumerate(shards.SPLITS):
        total = getattr(data, f"{split}_clips")
        seed_range = getattr(data, f"{split}_seeds")
        n_shards = max(1, -(-total // data.clips_per_shard))
        layout[split] = (seed_range, len(jobs), len(jobs) + n_shards)
        for s in range(n_shards):
            count = min(data.clips_per_shard, total - s * data.clips_per_shard)
            path = out_dir / f"{split}-{s:05d}-of-{n_shards:05d}.array_record"
            jobs.append(ShardJob(path, split_index, s, count, seed_range, cfg.env, data))
    workers = min(data.workers or os.cpu_count() or 1, len(jobs))
    start = time.perf_counter()
    if workers == 1:
        results = [_run_shard(job) for job in jobs]
    else:
        # spawn, not fork: the caller may hold JAX's threads, which fork does not survive.
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.map(_run_shard, jobs, chunksize=1)
    seconds = time.perf_counter() - start
    splits = {split: _summary(results[a:b], {"seed_range": list(seed_range)})
              for split, (seed_range, a, b) in layout.items()}
    frames = sum(s["num_clips"] for s in splits.values()) * data.clip_length
    manifest = {
        "source": "platformer",
        "platformer_version": PLATFORMER_VERSION,
        "policy_version": POLICY_VERSION,
        "resolution": [cfg.env.height, cfg.env.width],
        "clip_length": data.clip_length,
        "has_actions": True,
        "action_names": list(ACTION_NAMES),
        "splits": splits,
        "generation": {"seconds": round(seconds, 2), "frames_per_s": round(frames / seconds, 1), "workers": workers},
        "config": {"name": cfg.name, "env": to_dict(cfg.env), "data": to_dict(data)},
    }
    shards.write_manifest(out_dir, manifest)
    log(f"wrote {frames} frames in {sum(s['num_clips'] for s in splits.values())} clips to {out_dir} "
        f"in {seconds:.1f}s ({frames / seconds:,.0f} frames/s)")
    return manifest
