"""Speed measurements; `scripts/benchmark.py` writes them as JSON."""

from __future__ import annotations

import pathlib
import tempfile
import time

import numpy as np

from genie.config import Config
from genie.models import build_models, count_params
from genie.data import shards
from genie.data.generate import generate_dataset
from genie.data.loader import Loader


def datagen(cfg: Config, batch_size: int = 8, load_batches: int = 200) -> dict:
    """Generation of cfg's dataset to disk (all workers), writing alone, and loading batches."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "data"
        manifest = generate_dataset(cfg, out, log=lambda *_: None)
        frames = sum(s["num_clips"] for s in manifest["splits"].values()) * cfg.data.clip_length

        # Writing alone: re-encode and write clips already in memory.
        source = shards.ClipSource(out, "train", verify_checksums=False)
        clips = [source[i] for i in range(min(len(source), 1024))]
        start = time.perf_counter()
        shards.write_shard(pathlib.Path(tmp) / "rewrite.array_record",
                           (shards.encode_clip(c["frames_THWC"], c["actions_Tm1"]) for c in clips))
        write_s = time.perf_counter() - start

        loader = Loader(out, "train", batch_size, seed=0)
        next(loader)  # the first batch pays for starting the prefetch threads
        start = time.perf_counter()
        for _ in range(load_batches):
            batch = next(loader)
        load_s = time.perf_counter() - start
    return {
        "resolution": [cfg.env.height, cfg.env.width],
        "clip_length": cfg.data.clip_length,
        "frames": frames,
        "workers": manifest["generation"]["workers"],
        "frames_per_s": manifest["generation"]["frames_per_s"],
        "write_frames_per_s": round(len(clips) * cfg.data.clip_length / write_s, 1),
        "load_batches_per_s": round(load_batches / load_s, 1),
        "load_batch_shape": list(np.shape(batch["video_BTHWC"])),
    }


def params(cfg: Config) -> dict:
    """Parameter counts of each model at cfg's shapes (built abstractly: no memory, no time)."""
    from flax import nnx

    models = nnx.eval_shape(lambda: build_models(cfg, nnx.Rngs(0)))
    return {name: count_params(model) for name, model in models.items()}
