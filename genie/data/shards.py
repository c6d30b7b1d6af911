"""The on-disk dataset: clips as records in array_record shards, described by manifest.json.

A record is `MAGIC | u32 header length | JSON header | frames uint8 [T,H,W,3] | actions int8 [T-1]`:
self-describing, no pickle, so opening a dataset from elsewhere can never run code. Shards are
written to a temporary name and renamed when complete, so a crash never leaves a half shard
under a real name; manifest.json is written last and carries each shard's size and sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import struct

import numpy as np
from array_record.python import array_record_module

FORMAT = "genie-clips"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PREVIEW = "preview.gif"
SPLITS = ("train", "val", "test")
_MAGIC = b"GNC1"
NO_ACTION = -1  # the action of clips imported from videos, which have none
# One record per chunk for fast random access; zstd shrinks the flat-coloured frames ~50x.
_WRITER_OPTIONS = "group_size:1,zstd:3"


class DataError(RuntimeError):
    """A dataset that cannot be read as it is; the message names the file and what to do."""


def encode_clip(frames_THWC: np.ndarray, actions_Tm1: np.ndarray, **meta) -> bytes:
    """Serialises one clip; meta (level_seed, episode, t0, progress, ...) must be JSON values."""
    if frames_THWC.dtype != np.uint8 or frames_THWC.ndim != 4:
        raise ValueError(f"frames must be uint8 [T,H,W,C], got {frames_THWC.dtype} {frames_THWC.shape}")
    if actions_Tm1.shape != (frames_THWC.shape[0] - 1,):
        raise ValueError(f"a clip of {frames_THWC.shape[0]} frames needs {frames_THWC.shape[0] - 1} actions")
    header = json.dumps({"shape": list(frames_THWC.shape), **meta}).encode()
    return b"".join([_MAGIC, struct.pack("<I", len(header)), header, frames_THWC.tobytes(),
                     actions_Tm1.astype(np.int8).tobytes()])


def decode_clip(record: bytes, where: str = "record") -> dict:
    """Parses one record into frames_THWC, actions_Tm1 and its metadata."""
    if record[:4] != _MAGIC or len(record) < 8:
        raise DataError(f"{where} is not a genie clip record (bad magic); the shard is corrupt: regenerate it")
    (header_len,) = struct.unpack("<I", record[4:8])
    try:
        header = json.loads(record[8:8 + header_len])
        shape = tuple(header.pop("shape")) if isinstance(header, dict) else None
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"{where} has an unreadable header ({e!r}); the shard is corrupt: regenerate it") from None
    if shape is None:
        raise DataError(f"{where} has a header that is not an object; the shard is corrupt: regenerate it")
    if len(shape) != 4 or not all(type(n) is int and n >= 1 for n in shape) or shape[-1] != 3:
        raise DataError(f"{where} claims frames of shape {list(shape)}, not [T, H, W, 3]; the shard is corrupt: "
                        "regenerate it")
    if clash := sorted(set(header) & {"frames_THWC", "actions_Tm1", "index"}):
        raise DataError(f"{where} has header fields {clash} that would hide its decoded data; the shard is corrupt: "
                        "regenerate it")
    n_frames = int(np.prod(shape))
    body = memoryview(record)[8 + header_len:]
    if len(body) != n_frames + shape[0] - 1:
        raise DataError(f"{where} holds {len(body)} bytes of data, expected {n_frames + shape[0] - 1} for "
                        f"frames of shape {shape}; the shard is corrupt: regenerate it")
    frames = np.frombuffer(body[:n_frames], np.uint8).reshape(shape)
    actions = np.frombuffer(body[n_frames:], np.int8).astype(np.int32)
    return {"frames_THWC": frames, "actions_Tm1": actions, **header}


def sha256_file(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def write_shard(path: pathlib.Path, records) -> dict:
    """Writes records to `path` atomically; returns its manifest entry."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    writer = array_record_module.ArrayRecordWriter(str(tmp), _WRITER_OPTIONS)
    count = 0
    try:
        for record in records:
            writer.write(record)
            count += 1
    finally:
        writer.close()
    entry = {"file": path.name, "num_clips": count, "bytes": tmp.stat().st_size, "sha256": sha256_file(tmp)}
    os.replace(tmp, path)
    return entry


def shard_path(data_dir: pathlib.Path, split: str, index: int, count: int) -> pathlib.Path:
    return pathlib.Path(data_dir) / f"{split}-{index:05d}-of-{count:05d}.array_record"


def write_split(data_dir: pathlib.Path, split: str, records: list[bytes], clips_per_shard: int) -> dict:
    """Writes one split's records into shards of `clips_per_shard`; returns its manifest entry."""
    count = max(1, -(-len(records) // clips_per_shard))
    entries = [write_shard(shard_path(data_dir, split, s, count), records[s * clips_per_shard:(s + 1) * clips_per_shard])
               for s in range(count)]
    return {"num_clips": len(records), "shards": entries}


def dataset_files(data_dir: pathlib.Path) -> list[pathlib.Path]:
    """The files of a dataset in data_dir (its manifest, preview and shards, finished or not)."""
    return [p for p in sorted(data_dir.iterdir()) if p.name in (MANIFEST, PREVIEW) or ".array_record" in p.name]


def write_manifest(data_dir: pathlib.Path, manifest: dict) -> None:
    tmp = pathlib.Path(data_dir) / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}, indent=1))
    os.replace(tmp, pathlib.Path(data_dir) / MANIFEST)


def read_manifest(data_dir: str | os.PathLike) -> dict:
    path = pathlib.Path(data_dir) / MANIFEST
    if not path.is_file():
        hint = ("shards are there but no manifest: generation did not finish; run it again"
                if any(pathlib.Path(data_dir).glob("*.array_record*")) else
                "generate one with scripts/generate_data.py or import videos with scripts/import_videos.py")
        raise DataError(f"no dataset at {data_dir}: {path} is missing ({hint})")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as e:
        raise DataError(f"{path} is not valid JSON ({e}); regenerate the dataset") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{path} holds a {type(manifest).__name__}, not a manifest (an object); regenerate the dataset")
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path} is format {manifest.get('format')!r} version {manifest.get('format_version')!r}; "
                        f"this code reads {FORMAT!r} version {FORMAT_VERSION}: regenerate the dataset")
    if problem := _manifest_problem(manifest):
        raise DataError(f"{path} is damaged: {problem}; regenerate the dataset")
    return manifest


def _is_count(value) -> bool:
    return type(value) is int and value >= 0


def _manifest_problem(manifest: dict) -> str | None:
    """What in a manifest (of the right format) is missing or of the wrong kind, if anything."""
    resolution = manifest.get("resolution")
    if not (isinstance(resolution, list) and len(resolution) == 2 and all(_is_count(n) and n for n in resolution)):
        return f"resolution is {resolution!r}, not [height, width]"
    if not (_is_count(manifest.get("clip_length")) and manifest["clip_length"] >= 2):
        return f"clip_length is {manifest.get('clip_length')!r}, not a whole number of frames of at least 2"
    names = manifest.get("action_names", [])
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        return f"action_names is {names!r}, not a list of names"
    splits = manifest.get("splits")
    if not isinstance(splits, dict) or not splits:
        return "it lists no splits"
    for name, split in splits.items():
        if not (isinstance(split, dict) and _is_count(split.get("num_clips"))
                and isinstance(split.get("shards"), list)):
            return f"split {name!r} lacks num_clips or its list of shards"
        for shard in split["shards"]:
            if not (isinstance(shard, dict) and isinstance(shard.get("file"), str) and _is_count(shard.get("bytes"))
                    and isinstance(shard.get("sha256"), str)) or pathlib.PurePath(shard["file"]).name != shard["file"]:
                return f"split {name!r} lists a shard {shard!r} that is not a file name with its bytes and sha256"
    return None


def check_shards(data_dir: str | os.PathLike, split: str, verify_checksums: bool = True) -> list[pathlib.Path]:
    """The split's shard paths, after checking each against the manifest (size, and sha256 if asked)."""
    data_dir = pathlib.Path(data_dir)
    manifest = read_manifest(data_dir)
    if split not in manifest["splits"]:
        raise DataError(f"{data_dir} has no split {split!r}; it has {sorted(manifest['splits'])}")
    paths = []
    for shard in manifest["splits"][split]["shards"]:
        path = data_dir / shard["file"]
        if not path.is_file():
            raise DataError(f"shard {path} listed in {MANIFEST} is missing; restore it or regenerate the dataset")
        size = path.stat().st_size
        if size != shard["bytes"]:
            raise DataError(f"shard {path} is {size} bytes but {MANIFEST} says {shard['bytes']}: it is truncated "
                            "or was replaced; regenerate the dataset")
        if verify_checksums and sha256_file(path) != shard["sha256"]:
            raise DataError(f"shard {path} does not match its sha256 in {MANIFEST}: it is corrupt; "
                            "regenerate the dataset")
        paths.append(path)
    return paths


class ClipSource:
    """Random access to the clips of one split (a grain data source): item i -> decoded clip."""

    def __init__(self, data_dir: str | os.PathLike, split: str, verify_checksums: bool = True):
        import grain  # loading needs grain; writing does not

        self.manifest = read_manifest(data_dir)
        self.data_dir, self.split = pathlib.Path(data_dir), split
        self.paths = check_shards(data_dir, split, verify_checksums)
        try:
            self._source = grain.sources.ArrayRecordDataSource([str(p) for p in self.paths])
        except Exception as e:  # array_record raises plain RuntimeErrors on damaged files
            raise DataError(f"cannot open the shards of {data_dir}/{split}: {e}; regenerate the dataset") from None
        expected = self.manifest["splits"][split]["num_clips"]
        if len(self._source) != expected:
            raise DataError(f"{data_dir}/{split} shards hold {len(self._source)} clips but {MANIFEST} says "
                            f"{expected}; regenerate the dataset")

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> dict:
        where = f"clip {index} of {self.data_dir}/{self.split}"
        try:
            record = self._source[index]
        except Exception as e:
            raise DataError(f"cannot read {where}: {e}; the shard is corrupt: regenerate the dataset") from None
        clip = decode_clip(record, where)
        wanted = (self.manifest["clip_length"], *self.manifest["resolution"], 3)
        if clip["frames_THWC"].shape != wanted:
            raise DataError(f"{where} has frames of shape {list(clip['frames_THWC'].shape)} where {MANIFEST} says "
                            f"{list(wanted)}; the dataset is corrupt: regenerate it")
        actions, count = clip["actions_Tm1"], len(self.manifest.get("action_names") or [])
        if actions.size and (actions.min() < -1 or actions.max() >= count):
            raise DataError(f"{where} has true actions {sorted(set(actions.tolist()))} outside -1..{count - 1} "
                            f"({count} action names in {MANIFEST}); the dataset is corrupt: regenerate it")
        return {**clip, "index": index}
