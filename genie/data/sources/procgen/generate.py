"""Clip generation for Procgen: a job plays whole episodes, each on a level drawn from its split's
level seeds, and cuts non-overlapping clips of T frames out of each (all of them, or
procgen.clips_per_episode at random places along it) until its shard is full."""

from __future__ import annotations

import os
import pathlib

import numpy as np

from genie.config import Config, to_dict
from genie.data import shards
from genie.data.generation import ShardJob, progress_histogram, run_shard_jobs
from genie.data.sources.procgen.game import action_names, version
from genie.data.sources.procgen.policy import play_episode


def clip_starts(num_frames: int, clip_length: int, limit: int | None, rng: np.random.Generator) -> list[int]:
    """First frames of non-overlapping clips in an episode of num_frames: every slot after a random
    offset, or `limit` of them drawn at random."""
    slots = num_frames // clip_length
    if slots == 0:
        return []
    offset = int(rng.integers(num_frames - slots * clip_length + 1))
    chosen = np.arange(slots) if limit is None or limit >= slots else np.sort(rng.choice(slots, limit, replace=False))
    return [offset + int(s) * clip_length for s in chosen]


def _run_shard(job: ShardJob) -> dict:
    """Generates one shard; returns its manifest entry plus statistics of its episodes and clips."""
    cfg, rng = job.cfg, job.rng()
    t_len = cfg.data.clip_length
    records, stats = [], {"episodes": 0, "completed": 0, "backtracks": 0, "episode_frames": 0, "t0": [],
                          "progress": []}
    while len(records) < job.num_clips:
        level = int(rng.integers(*job.seed_range))
        episode = play_episode(cfg.procgen, level, rng, cfg.data.height, cfg.data.width)
        n = len(episode.frames_THWC)
        stats["episodes"] += 1
        stats["completed"] += episode.completed
        stats["backtracks"] += episode.backtracks
        stats["episode_frames"] += n
        for t0 in clip_starts(n, t_len, cfg.procgen.clips_per_episode, rng)[:job.num_clips - len(records)]:
            # Where a level was finished, how far along its episode the clip's last frame is.
            progress = round((t0 + t_len - 1) / (n - 1), 4) if episode.completed else None
            records.append(shards.encode_clip(
                episode.frames_THWC[t0:t0 + t_len], episode.actions_Tm1[t0:t0 + t_len - 1], level_seed=level,
                episode=job.shard_index * 1_000_000 + stats["episodes"] - 1, t0=t0, level_complete=episode.completed,
                progress=progress))
            stats["t0"].append(t0)
            if progress is not None:
                stats["progress"].append(progress)
    return {"entry": shards.write_shard(job.path, records), **stats}


def _summary(results: list[dict], seed_range: tuple[int, int]) -> dict:
    episodes = sum(r["episodes"] for r in results)
    t0 = np.asarray([t for r in results for t in r["t0"]], np.float64)
    progress = [p for r in results for p in r["progress"]]
    return {
        "seed_range": list(seed_range),
        "num_clips": int(sum(r["entry"]["num_clips"] for r in results)),
        "shards": [r["entry"] for r in results],
        "episodes": episodes,
        "levels_completed": int(sum(r["completed"] for r in results)),
        "mean_episode_frames": round(sum(r["episode_frames"] for r in results) / max(episodes, 1), 1),
        "backtracks": int(sum(r["backtracks"] for r in results)),
        "mean_clip_start_step": round(float(t0.mean()), 1) if len(t0) else None,
        # Clips of finished levels: how far along the way to the level's end each clip's last frame is.
        "clips_of_completed_levels": len(progress),
        "progress": progress_histogram(progress),
    }


def generate_dataset(cfg: Config, out_dir: str | os.PathLike, log=print) -> dict:
    """Generates every split into out_dir; returns the manifest."""
    names = action_names()  # fails first, saying how to install procgen-gym, where it is missing
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, generation = run_shard_jobs(cfg, out_dir, _run_shard)
    splits = {split: _summary(done, seed_range) for split, (seed_range, done) in results.items()}
    num_clips = sum(s["num_clips"] for s in splits.values())
    manifest = {
        "source": "procgen",
        "game": cfg.procgen.game,
        "procgen_gym_version": version(),
        "resolution": [cfg.data.height, cfg.data.width],
        "clip_length": cfg.data.clip_length,
        "has_actions": True,
        "action_names": names,
        "splits": splits,
        "generation": generation,
        "config": {"name": cfg.name, "procgen": to_dict(cfg.procgen), "data": to_dict(cfg.data)},
    }
    shards.write_manifest(out_dir, manifest)
    log(f"wrote {num_clips * cfg.data.clip_length} frames of {cfg.procgen.game} in {num_clips} clips to {out_dir} in "
        f"{generation['seconds']:.1f}s ({generation['frames_per_s']:,.0f} frames/s); levels finished: "
        + ", ".join(f"{split} {s['levels_completed']}/{s['episodes']}" for split, s in splits.items()))
    return manifest
