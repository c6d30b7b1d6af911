"""Generating a dataset from a game, whatever the game: one job per shard, seeded by (data seed,
split, shard index), so a dataset is the same whatever the number of worker processes."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pathlib
import time
import typing

import numpy as np

from genie.config import Config
from genie.data import shards


@dataclasses.dataclass(frozen=True)
class ShardJob:
    path: pathlib.Path
    split_index: int
    shard_index: int
    num_clips: int
    seed_range: tuple[int, int]  # the split's level seeds [start, stop)
    cfg: Config

    def rng(self) -> np.random.Generator:
        return np.random.default_rng([self.cfg.data.seed, self.split_index, self.shard_index])


def run_shard_jobs(cfg: Config, out_dir: pathlib.Path,
                   run: typing.Callable[[ShardJob], dict]) -> tuple[dict, dict]:
    """Runs `run` (a module-level function, so that worker processes can import it) on every
    shard of every split; returns {split: (seed_range, [its jobs' results])} and how the
    generation went ({"seconds", "frames_per_s", "workers"})."""
    data = cfg.data
    jobs, layout = [], {}
    for split_index, split in enumerate(shards.SPLITS):
        total, seed_range = getattr(data, f"{split}_clips"), getattr(data, f"{split}_seeds")
        n_shards = max(1, -(-total // data.clips_per_shard))
        layout[split] = (seed_range, len(jobs), len(jobs) + n_shards)
        for s in range(n_shards):
            count = min(data.clips_per_shard, total - s * data.clips_per_shard)
            jobs.append(ShardJob(shards.shard_path(out_dir, split, s, n_shards), split_index, s, count, seed_range,
                                 cfg))
    workers = min(data.workers or os.cpu_count() or 1, len(jobs))
    start = time.perf_counter()
    if workers == 1:
        results = [run(job) for job in jobs]
    else:
        # spawn, not fork: the caller may hold JAX's threads, which fork does not survive.
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.map(run, jobs, chunksize=1)
    seconds = time.perf_counter() - start
    frames = sum(job.num_clips for job in jobs) * data.clip_length
    return ({split: (seed_range, results[a:b]) for split, (seed_range, a, b) in layout.items()},
            {"seconds": round(seconds, 2), "frames_per_s": round(frames / seconds, 1), "workers": workers})


def progress_histogram(progress: typing.Sequence[float], bins: int = 10) -> dict:
    """How far into their levels clips reach (0 = the start, 1 = the level's end)."""
    progress = np.asarray(progress, np.float64)
    counts, edges = np.histogram(progress, bins=bins, range=(0.0, 1.0))
    return {"bin_edges": [round(float(e), 2) for e in edges], "counts": counts.tolist(),
            "mean": round(float(progress.mean()), 4) if len(progress) else None,
            "fraction_past_half": round(float((progress >= 0.5).mean()), 4) if len(progress) else None}
