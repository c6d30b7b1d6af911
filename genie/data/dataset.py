"""Making a dataset folder ready: generate it (or keep a matching one) and draw its preview."""

from __future__ import annotations

import pathlib

import numpy as np

from genie.config import Config, DataConfig, EnvConfig, dict_differences, to_dict
from genie.data import shards
from genie.data.generate import PLATFORMER_VERSION, POLICY_VERSION, generate_dataset

PREVIEW = "preview.gif"


def prepare_dataset(cfg: Config, out_dir: str | pathlib.Path, overwrite: bool = False, log=print) -> dict:
    """Returns the manifest of the dataset at out_dir, generating it unless a matching one is there."""
    out_dir = pathlib.Path(out_dir)
    # The dataset's folder is where it is, not what it is: `data.dir` does not count.
    wanted = {"env": to_dict(cfg.env), "data": {**to_dict(cfg.data), "dir": None}}
    if (out_dir / shards.MANIFEST).exists() and not overwrite:
        manifest = shards.read_manifest(out_dir)
        # A field added since the dataset was made had its default's effect then.
        defaults = {"env": to_dict(EnvConfig()), "data": to_dict(DataConfig())}
        made_with = {k: {**defaults[k], **(manifest.get("config", {}).get(k) or {})} for k in wanted}
        made_with["data"] = {**made_with["data"], "dir": None}
        diffs = dict_differences(made_with, wanted, "there", "wanted")
        if manifest.get("platformer_version") != PLATFORMER_VERSION:
            diffs.append(f"platformer version {manifest.get('platformer_version', 1)} there, {PLATFORMER_VERSION} "
                         "wanted: its physics or drawing have changed since")
        if manifest.get("policy_version", 1) != POLICY_VERSION:
            diffs.append(f"policy version {manifest.get('policy_version', 1)} there, {POLICY_VERSION} wanted: the "
                         "exploration policy records other actions since")
        if diffs:
            raise shards.DataError(f"{out_dir} holds a dataset made with another config ({'; '.join(diffs)}); "
                                   "replace it (python scripts/generate_data.py --overwrite, with the same config options) or "
                                   "choose another folder (--config.data.dir)")
        log(f"dataset at {out_dir} is complete and matches the config; keeping it")
        return manifest
    if out_dir.exists():
        for old in [*out_dir.glob("*.array_record*"), out_dir / shards.MANIFEST, out_dir / PREVIEW]:
            old.unlink(missing_ok=True)
    manifest = generate_dataset(cfg, out_dir, log=log)
    write_preview(out_dir)
    return manifest


def write_preview(data_dir: str | pathlib.Path, split: str = "train", num_clips: int = 8, scale: int = 2) -> pathlib.Path:
    """A GIF of a grid of clips, chosen from the whole range of level progress."""
    import imageio.v3 as iio

    source = shards.ClipSource(data_dir, split, verify_checksums=False)
    clips = [source[i] for i in range(min(len(source), 256))]
    order = np.argsort([c.get("progress", 0.0) for c in clips], kind="stable")
    picks = order[np.linspace(0, len(order) - 1, min(num_clips, len(order))).astype(int)]
    video_NTHWC = np.stack([clips[i]["frames_THWC"] for i in picks])
    n, t, h, w, c = video_NTHWC.shape
    cols = min(4, n)
    rows = -(-n // cols)
    pad = np.zeros((rows * cols - n, t, h, w, c), np.uint8)
    grid = np.concatenate([video_NTHWC, pad]).reshape(rows, cols, t, h, w, c)
    # A one-pixel gap between clips so their borders read clearly.
    grid = np.pad(grid, ((0, 0), (0, 0), (0, 0), (0, 1), (0, 1), (0, 0)), constant_values=255)
    frames_THWC = grid.transpose(2, 0, 3, 1, 4, 5).reshape(t, rows * (h + 1), cols * (w + 1), c)
    frames_THWC = frames_THWC.repeat(scale, axis=1).repeat(scale, axis=2)
    path = pathlib.Path(data_dir) / PREVIEW
    iio.imwrite(path, frames_THWC, duration=100, loop=0)
    return path
