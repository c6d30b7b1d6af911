"""A user's own videos as a clip dataset: mp4/gif/webm files and folders of png/jpg frames.

Frames are centre-cropped to the configured aspect ratio, resized, and cut into consecutive
clips of T frames, marked as having no true actions. With three or more videos the splits are
by video (unseen videos for val/test); with fewer, each video is split in time (first 80% of
its clips train, then 10% val, 10% test), so the splits never share frames.
"""

from __future__ import annotations

import pathlib

import numpy as np

from genie.config import Config, to_dict
from genie.data import shards
from genie.data.frames import fit_frame
from genie.data.sources import Source

VIDEO_SUFFIXES = (".mp4", ".gif", ".webm", ".avi", ".mov", ".mkv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class VideoSource(Source):
    """Clips cut from videos; made by `import_videos` (scripts/import_videos.py), never generated."""

    name = "videos"

    def generate(self, cfg: Config, out_dir: pathlib.Path, log=print) -> dict:
        raise shards.DataError(f"no dataset at {out_dir}: import your videos into it with "
                               f"python scripts/import_videos.py <folder of videos> --out {out_dir} (with the same "
                               "--config and options as training)")


def find_videos(folder: pathlib.Path) -> list[pathlib.Path]:
    """Video files and image-sequence folders under `folder` (the folder itself if it holds images)."""
    if not folder.is_dir():
        raise shards.DataError(f"{folder} is not a folder; give a folder of videos or image sequences")
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    sequences = {p.parent for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}
    found += sorted(sequences)
    if not found:
        raise shards.DataError(f"{folder} holds no videos ({', '.join(VIDEO_SUFFIXES)}) and no folders of "
                               f"{'/'.join(IMAGE_SUFFIXES)} frames; nothing to import")
    return found


def read_video(path: pathlib.Path, height: int, width: int, stride: int = 1) -> np.ndarray:
    """All frames of a video file or image folder, resized: uint8 [N, height, width, 3]."""
    import imageio.v3 as iio

    frames = []
    try:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            source = (iio.imread(p) for p in files)
        else:
            source = iio.imiter(path)
        for i, frame in enumerate(source):
            if i % stride == 0:
                frames.append(fit_frame(np.asarray(frame), height, width))
    except Exception as e:  # decoders raise many types; all mean the same to the user
        raise shards.DataError(f"cannot decode {path}: {e}. Re-encode it (e.g. ffmpeg -i in out.mp4) or "
                               "remove it from the folder") from None
    if not frames:
        raise shards.DataError(f"{path} has no frames; remove it from the folder")
    return np.stack(frames)


def _clips(video_NHWC: np.ndarray, t_len: int) -> np.ndarray:
    n = len(video_NHWC) // t_len
    return video_NHWC[:n * t_len].reshape(n, t_len, *video_NHWC.shape[1:])


def import_videos(folder: str | pathlib.Path, out_dir: str | pathlib.Path, cfg: Config, frame_stride: int = 1,
                  log=print, overwrite: bool = False) -> dict:
    """Imports every video under folder into a new dataset at out_dir; returns the manifest.
    out_dir must be new or empty; `overwrite` replaces a dataset there (and nothing else: a folder
    holding other files is refused), once the videos have been read."""
    folder, out_dir = pathlib.Path(folder), pathlib.Path(out_dir)
    if out_dir.is_dir() and (held := sorted(out_dir.iterdir())):
        others = sorted({p.name for p in held} - {p.name for p in shards.dataset_files(out_dir)})
        if others:
            raise shards.DataError(f"{out_dir} holds files that are not a dataset ({', '.join(others[:3])}"
                                   f"{', ...' if len(others) > 3 else ''}); import into a new or empty folder (--out)")
        if not overwrite:
            raise shards.DataError(f"{out_dir} already holds a dataset; import into a new or empty folder (--out), "
                                   "or pass --overwrite to replace it")
    t_len, height, width = cfg.data.clip_length, cfg.data.height, cfg.data.width
    videos = find_videos(folder)
    clips_per_split: dict[str, list] = {s: [] for s in shards.SPLITS}
    names: dict[str, list[str]] = {s: [] for s in shards.SPLITS}
    by_video = len(videos) >= 3
    order = np.random.default_rng(cfg.data.seed).permutation(len(videos))
    n_held = max(1, round(0.1 * len(videos)))
    for rank, index in enumerate(order):
        path = videos[index]
        clips_NTHWC = _clips(read_video(path, height, width, frame_stride), t_len)
        if len(clips_NTHWC) == 0:
            log(f"skipping {path}: fewer than {t_len} frames")
            continue
        name = str(path.relative_to(folder)) if path != folder else path.name
        meta = [dict(video=name, t0=int(c * t_len * frame_stride)) for c in range(len(clips_NTHWC))]
        if by_video:
            split = "val" if rank < n_held else "test" if rank < 2 * n_held else "train"
            parts = {split: slice(None)}
        else:
            a, b = int(0.8 * len(clips_NTHWC)), int(0.9 * len(clips_NTHWC))
            parts = {"train": slice(0, a), "val": slice(a, b), "test": slice(b, None)}
        for split, part in parts.items():
            clips_per_split[split] += list(zip(clips_NTHWC[part], meta[part]))
            if len(clips_NTHWC[part]):
                names[split].append(name)
    empty = [s for s, c in clips_per_split.items() if not c]
    if empty:
        raise shards.DataError(f"the videos in {folder} give no clips of {t_len} frames for split(s) {empty}; "
                               "add videos or longer ones")
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in shards.dataset_files(out_dir):  # only with overwrite, checked above
        old.unlink()
    no_actions = np.full(t_len - 1, shards.NO_ACTION, np.int8)
    splits = {}
    for split, clips in clips_per_split.items():
        records = [shards.encode_clip(frames, no_actions, **meta) for frames, meta in clips]
        splits[split] = {**shards.write_split(out_dir, split, records, cfg.data.clips_per_shard),
                         "sources": names[split]}
    manifest = {
        "source": VideoSource.name,
        "resolution": [height, width],
        "clip_length": t_len,
        "has_actions": False,
        "action_names": [],
        "splits": splits,
        "import": {"folder": str(folder), "videos": len(videos), "frame_stride": frame_stride,
                   "split_by": "video" if by_video else "time"},
        "config": {"name": cfg.name, "data": to_dict(cfg.data)},
    }
    shards.write_manifest(out_dir, manifest)
    log(f"imported {sum(len(c) for c in clips_per_split.values())} clips from {len(videos)} videos into {out_dir}")
    return manifest
