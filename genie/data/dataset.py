"""Making a dataset folder ready for a config, whatever its source: keep a matching one, generate
a missing one, refuse one that does not match; and draw a preview of it."""

from __future__ import annotations

import pathlib

import numpy as np

from genie.config import Config
from genie.data import shards
from genie.data.frames import grid
from genie.data.sources import get_source


def mismatches(manifest: dict, cfg: Config, source_settings: bool = True) -> list[str]:
    """Why the dataset of `manifest` cannot serve `cfg`: frame size and clip length, which every
    model needs, then (with `source_settings`) whatever its own source checks."""
    diffs = []
    resolution, wanted = manifest.get("resolution"), [cfg.data.height, cfg.data.width]
    if resolution != wanted:
        diffs.append(f"frames of {resolution} there, {wanted} wanted (data.height, data.width)")
    if manifest.get("clip_length") != cfg.data.clip_length:
        diffs.append(f"clips of {manifest.get('clip_length')} frames there, {cfg.data.clip_length} wanted "
                     "(data.clip_length)")
    if not source_settings:
        return diffs
    return diffs + get_source(manifest.get("source", "platformer")).mismatches(manifest, cfg)


def check_dataset(cfg: Config, data_dir: str | pathlib.Path, source_settings: bool = True) -> dict:
    """The manifest of the dataset at data_dir, after checking that it can serve `cfg`: the frames
    and clips the models take, and (with `source_settings`, for training) the source's settings."""
    data_dir = pathlib.Path(data_dir)
    manifest = shards.read_manifest(data_dir)
    diffs = mismatches(manifest, cfg, source_settings)
    if diffs:
        source = get_source(manifest.get("source", "platformer"))
        remedy = ("make a new one in another folder (--config.data.dir), or replace this one with "
                  "python scripts/generate_data.py --overwrite and the same config options"
                  if source.reproducible else
                  "set the config to match it, or make a new dataset in another folder for this config")
        raise shards.DataError(f"{data_dir} holds a {manifest.get('source')} dataset made with another config "
                               f"({'; '.join(diffs)}): {remedy}")
    return manifest


def prepare_dataset(cfg: Config, out_dir: str | pathlib.Path, overwrite: bool = False, log=print) -> dict:
    """Returns the manifest of the dataset at out_dir, generating it by cfg.data.source unless a
    matching one is there. `overwrite` replaces one that is there (only a source that can make it
    again is ever replaced)."""
    out_dir = pathlib.Path(out_dir)
    if (out_dir / shards.MANIFEST).exists():
        if not overwrite:
            manifest = check_dataset(cfg, out_dir)
            log(f"{manifest.get('source')} dataset at {out_dir} is complete and matches the config; keeping it")
            return manifest
        manifest = shards.read_manifest(out_dir)
        if not get_source(manifest.get("source", "platformer")).reproducible:
            raise shards.DataError(f"{out_dir} holds a {manifest.get('source')} dataset, which cannot be made again "
                                   "from a config; it is kept: choose another folder (--config.data.dir)")
    if out_dir.exists():
        for old in shards.dataset_files(out_dir):
            old.unlink()
    manifest = get_source(cfg.data.source).generate(cfg, out_dir, log=log)
    write_preview(out_dir)
    return manifest


def write_preview(data_dir: str | pathlib.Path, split: str = "train", num_clips: int = 8, scale: int = 2) -> pathlib.Path:
    """A GIF of a grid of clips, chosen from the whole range of level progress where clips record it."""
    import imageio.v3 as iio

    source = shards.ClipSource(data_dir, split, verify_checksums=False)
    clips = [source[i] for i in range(min(len(source), 256))]
    order = np.argsort([c.get("progress") or 0.0 for c in clips], kind="stable")
    picks = order[np.linspace(0, len(order) - 1, min(num_clips, len(order))).astype(int)]
    video_NTHWC = np.stack([clips[i]["frames_THWC"] for i in picks])
    n, t, h, w, c = video_NTHWC.shape
    cols = min(4, n)
    rows = -(-n // cols)
    cells = np.concatenate([video_NTHWC, np.zeros((rows * cols - n, t, h, w, c), np.uint8)]).reshape(rows, cols, t, h, w, c)
    # A one-pixel gap between clips so their borders read clearly.
    frames_THWC = np.stack([grid(cells[:, :, i], gap=1, scale=scale) for i in range(t)])
    path = pathlib.Path(data_dir) / shards.PREVIEW
    iio.imwrite(path, frames_THWC, duration=100, loop=0)
    return path
