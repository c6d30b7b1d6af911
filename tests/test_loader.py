from collections import Counter

import numpy as np
import pytest

from genie.data.loader import Loader
from genie.data.shards import ClipSource


def _take(loader, n):
    return [next(loader) for _ in range(n)]


def _clip_ids(batch):
    # Clips are told apart by their pixels and actions; hashing each clip gives a comparable id.
    # Two clips of a player stuck against a wall can be identical, so ids are compared as multisets.
    return [hash(clip.tobytes() + actions.tobytes()) for clip, actions in zip(batch["video_BTHWC"], batch["actions_BTm1"])]


def _all_clip_ids(data_dir):
    source = ClipSource(data_dir, "train")
    return Counter(hash(source[i]["frames_THWC"].tobytes() + source[i]["actions_Tm1"].astype(np.int32).tobytes())
                   for i in range(len(source)))


def test_batches_have_fixed_shapes_and_types(tiny_cfg, tiny_data):
    batch = next(Loader(tiny_data, "train", batch_size=4, seed=0))
    t, h, w = tiny_cfg.data.clip_length, tiny_cfg.data.height, tiny_cfg.data.width
    assert batch["video_BTHWC"].shape == (4, t, h, w, 3) and batch["video_BTHWC"].dtype == np.uint8
    assert batch["actions_BTm1"].shape == (4, t - 1)


def test_shuffle_is_deterministic_from_the_seed(tiny_data):
    a = _take(Loader(tiny_data, "train", 4, seed=1), 6)
    b = _take(Loader(tiny_data, "train", 4, seed=1), 6)
    c = _take(Loader(tiny_data, "train", 4, seed=2), 6)
    assert [_clip_ids(x) for x in a] == [_clip_ids(x) for x in b]
    assert [_clip_ids(x) for x in a] != [_clip_ids(x) for x in c]


def test_each_epoch_visits_every_clip_once_in_a_new_order(tiny_data):
    loader = Loader(tiny_data, "train", 4, seed=0)
    n = loader.batches_per_epoch
    epoch1 = sum((_clip_ids(b) for b in _take(loader, n)), [])
    epoch2 = sum((_clip_ids(b) for b in _take(loader, n)), [])
    everything = _all_clip_ids(tiny_data)
    assert len(epoch1) == 48 and Counter(epoch1) == Counter(epoch2) == everything
    assert epoch1 != epoch2


def test_resume_continues_with_the_next_unseen_batch(tiny_data):
    uninterrupted = _take(Loader(tiny_data, "train", 4, seed=3), 20)
    first = Loader(tiny_data, "train", 4, seed=3)
    _take(first, 13)  # crosses an epoch boundary (12 batches an epoch)
    state = first.get_state()
    resumed = Loader(tiny_data, "train", 4, seed=3)
    resumed.set_state(state)
    for expected, got in zip(uninterrupted[13:], _take(resumed, 7)):
        np.testing.assert_array_equal(expected["video_BTHWC"], got["video_BTHWC"])
        np.testing.assert_array_equal(expected["actions_BTm1"], got["actions_BTm1"])


def test_process_shards_are_disjoint_and_cover_the_data(tiny_data):
    parts = [Loader(tiny_data, "train", 4, seed=0, shard_index=i, shard_count=2) for i in range(2)]
    ids = [sum((_clip_ids(b) for b in _take(p, p.batches_per_epoch)), []) for p in parts]
    assert Counter(ids[0]) + Counter(ids[1]) == _all_clip_ids(tiny_data)  # each clip in exactly one part


def test_too_few_clips_for_a_batch(tiny_data):
    with pytest.raises(ValueError, match="fewer than one batch"):
        Loader(tiny_data, "val", batch_size=64)
