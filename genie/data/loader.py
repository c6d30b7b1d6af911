"""Batches of clips for training: shuffled from a seed, sharded by process, prefetched, resumable.

The order is a pure function of (seed, epoch): grain reshuffles every epoch from the seed, and
each process takes every `shard_count`-th clip of that order, so processes never overlap. The
position is a small JSON-able dict; restoring it continues with the next unseen batch.
"""

from __future__ import annotations

import os

import grain

from genie.data.shards import ClipSource


def _to_example(clip: dict) -> dict:
    return {"video_THWC": clip["frames_THWC"], "actions_Tm1": clip["actions_Tm1"], "index": clip["index"]}


def _to_batch(examples: dict) -> dict:
    return {"video_BTHWC": examples["video_THWC"], "actions_BTm1": examples["actions_Tm1"],
            "index_B": examples["index"]}


class Loader:
    """Iterator over batches {"video_BTHWC": uint8, "actions_BTm1": int32 (-1 where unknown),
    "index_B": each clip's index in its split}."""

    def __init__(self, data_dir: str | os.PathLike, split: str, batch_size: int, seed: int = 0,
                 shard_index: int = 0, shard_count: int = 1, num_epochs: int | None = None,
                 shuffle: bool = True, prefetch: int = 4, verify_checksums: bool = True):
        self.source = ClipSource(data_dir, split, verify_checksums)
        if len(self.source) < batch_size * shard_count:
            raise ValueError(f"{data_dir}/{split} has {len(self.source)} clips, fewer than one batch of "
                             f"{batch_size} for each of {shard_count} processes; generate more clips")
        ds = grain.MapDataset.source(self.source)
        if shuffle:
            ds = ds.shuffle(seed=seed)
        ds = ds.repeat(num_epochs)[shard_index::shard_count]
        self.batches_per_epoch = len(self.source) // shard_count // batch_size
        ds = ds.map(_to_example).batch(batch_size, drop_remainder=True).map(_to_batch)
        options = grain.ReadOptions(num_threads=2 if prefetch else 0, prefetch_buffer_size=prefetch)
        self._dataset = ds.to_iter_dataset(options)
        self._iterator = iter(self._dataset)

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        return next(self._iterator)

    def get_state(self) -> dict:
        """The position: the batches already taken. JSON-able."""
        return dict(self._iterator.get_state())

    def set_state(self, state: dict) -> None:
        self._iterator.set_state(dict(state))

