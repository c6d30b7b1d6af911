import json
import shutil

import numpy as np
import pytest

from genie.data import shards


@pytest.fixture
def data_copy(tiny_data, tmp_path):
    """A private copy of the tiny dataset that a test may damage."""
    return shutil.copytree(tiny_data, tmp_path / "copy")


def _first_shard(data_dir, split="train"):
    entry = shards.read_manifest(data_dir)["splits"][split]["shards"][0]
    return data_dir / entry["file"]


def test_record_round_trip():
    frames = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    actions = np.array([0, 5, -1])
    clip = shards.decode_clip(shards.encode_clip(frames, actions, level_seed=3, progress=0.5))
    np.testing.assert_array_equal(clip["frames_THWC"], frames)
    np.testing.assert_array_equal(clip["actions_Tm1"], actions)
    assert clip["level_seed"] == 3 and clip["progress"] == 0.5


def test_damaged_records_are_refused():
    record = shards.encode_clip(np.zeros((2, 4, 4, 3), np.uint8), np.zeros(1))
    with pytest.raises(shards.DataError, match="bad magic"):
        shards.decode_clip(b"XXXX" + record[4:])
    with pytest.raises(shards.DataError, match="bytes of data"):
        shards.decode_clip(record[:-3])


def test_corrupt_shard_is_refused_naming_the_file(data_copy):
    path = _first_shard(data_copy)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(shards.DataError, match=rf"{path.name}.*sha256.*corrupt"):
        shards.ClipSource(data_copy, "train")


def test_truncated_shard_is_refused_even_without_checksums(data_copy):
    path = _first_shard(data_copy)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(shards.DataError, match=rf"{path.name}.*truncated"):
        shards.ClipSource(data_copy, "train", verify_checksums=False)


def test_missing_shard_and_missing_manifest(data_copy):
    path = _first_shard(data_copy, "val")
    path.unlink()
    with pytest.raises(shards.DataError, match=rf"{path.name}.*missing"):
        shards.ClipSource(data_copy, "val")
    (data_copy / shards.MANIFEST).unlink()
    with pytest.raises(shards.DataError, match="generation did not finish"):
        shards.ClipSource(data_copy, "train")


def test_manifest_that_does_not_match_its_shards(data_copy):
    manifest = json.loads((data_copy / shards.MANIFEST).read_text())
    manifest["splits"]["train"]["num_clips"] += 1
    (data_copy / shards.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(shards.DataError, match="shards hold 48 clips but manifest.json says 49"):
        shards.ClipSource(data_copy, "train")
    manifest["format_version"] = 99
    (data_copy / shards.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(shards.DataError, match="version 99"):
        shards.read_manifest(data_copy)


def test_unknown_split(tiny_data):
    with pytest.raises(shards.DataError, match="no split 'extra'"):
        shards.ClipSource(tiny_data, "extra")


def test_interrupted_write_leaves_no_shard(tmp_path):
    def records():
        yield shards.encode_clip(np.zeros((2, 4, 4, 3), np.uint8), np.zeros(1))
        raise KeyboardInterrupt

    path = tmp_path / "train-00000-of-00001.array_record"
    with pytest.raises(KeyboardInterrupt):
        shards.write_shard(path, records())
    assert not path.exists()  # only the .tmp file, which no manifest names


def test_no_dataset_at_all(tmp_path):
    with pytest.raises(shards.DataError, match="no dataset at .*generate one"):
        shards.read_manifest(tmp_path)


def _record(header: bytes, body: bytes = bytes(2 * 4 * 4 * 3 + 1)) -> bytes:
    return shards._MAGIC + len(header).to_bytes(4, "little") + header + body


@pytest.mark.parametrize("header, message", [
    (b"[2, 4, 4, 3]", "a header that is not an object"),
    (b'{"frames": 3}', "unreadable header"),  # no shape
    (b'{"shape": [2, 4.5, 4, 3]}', "claims frames of shape"),
    (b'{"shape": [2, 4, 4]}', "claims frames of shape"),
    (b'{"shape": "2443"}', "claims frames of shape"),
    (b'{"shape": [2, 4, 4, 3], "frames_THWC": 1}', "would hide its decoded data"),
])
def test_malformed_record_headers_are_refused(header, message):
    with pytest.raises(shards.DataError, match=message):
        shards.decode_clip(_record(header), "clip 7 of d/train")


def _dataset(tmp_path, frames_THWC, actions_Tm1, **manifest):
    tmp_path.mkdir()
    splits = {"train": shards.write_split(tmp_path, "train", [shards.encode_clip(frames_THWC, actions_Tm1)], 1)}
    t, h, w, _ = frames_THWC.shape
    shards.write_manifest(tmp_path, {"source": "videos", "resolution": [h, w], "clip_length": t, "splits": splits,
                                     **manifest})
    return tmp_path


def test_clips_that_disagree_with_their_manifest_are_refused_naming_the_clip(tmp_path):
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    shaped = _dataset(tmp_path / "a", frames, np.zeros(2, np.int64), resolution=[16, 16])
    with pytest.raises(shards.DataError, match=r"clip 0 of .*a/train has frames of shape \[3, 8, 8, 3\] where "
                                               r"manifest.json says \[3, 16, 16, 3\]"):
        shards.ClipSource(shaped, "train")[0]
    acted = _dataset(tmp_path / "b", frames, np.array([1, 9]), action_names=["noop", "left"])
    with pytest.raises(shards.DataError, match=r"true actions \[1, 9\] outside -1..1"):
        shards.ClipSource(acted, "train")[0]
    assert shards.ClipSource(_dataset(tmp_path / "c", frames, np.array([-1, -1])), "train")[0]["index"] == 0


@pytest.mark.parametrize("change, message", [
    (lambda m: [m], "holds a list, not a manifest"),
    (lambda m: {**m, "resolution": [32]}, "resolution is"),
    (lambda m: {**m, "clip_length": "8"}, "clip_length is"),
    (lambda m: {**m, "splits": {}}, "lists no splits"),
    (lambda m: {**m, "splits": {"train": {"shards": []}}}, "lacks num_clips"),
    (lambda m: {**m, "splits": {"train": {"num_clips": 1, "shards": [{"file": "../../etc/passwd", "bytes": 1,
                                                                        "sha256": "0"}]}}}, "not a file name"),
])
def test_a_damaged_manifest_is_refused_naming_it(data_copy, change, message):
    path = data_copy / shards.MANIFEST
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    with pytest.raises(shards.DataError, match=f"{path}.*{message}"):
        shards.ClipSource(data_copy, "train")
