import imageio.v3 as iio
import numpy as np
import pytest

from genie.data import shards
from genie.data.loader import Loader
from genie.data.sources.platformer.env import PlatformerEnv
from genie.data.sources.videos import import_videos


def _platformer_video(seed, n):
    """Real-looking frames at a resolution other than the dataset's: 96 x 128."""
    from genie.config import PlatformerConfig

    env = PlatformerEnv(PlatformerConfig(tiles_per_view=8), height=96, width=128)
    frames = [env.reset(seed=seed)[0]]
    while len(frames) < n:
        obs, _, terminated, truncated, _ = env.step(2)
        frames.append(env.reset()[0] if terminated or truncated else obs)
    return np.stack(frames)


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    iio.imwrite(folder / "a.mp4", _platformer_video(0, 40), fps=15, codec="libx264", macro_block_size=16)
    iio.imwrite(folder / "b.gif", _platformer_video(1, 24), duration=60, loop=0)
    (folder / "c_frames").mkdir()
    for i, frame in enumerate(_platformer_video(2, 20)):
        iio.imwrite(folder / "c_frames" / f"{i:04d}.png", frame)
    return folder


def test_import_mp4_gif_and_png_sequence(tiny_cfg, video_folder, tmp_path):
    manifest = import_videos(video_folder, tmp_path / "mine", tiny_cfg, log=lambda *_: None)
    t = tiny_cfg.data.clip_length
    assert not manifest["has_actions"] and manifest["import"]["split_by"] == "video"
    # Clips per video: 40 // 8 = 5, 24 // 8 = 3, 20 // 8 = 2; each video lands whole in one split.
    counts = sorted(s["num_clips"] for s in manifest["splits"].values())
    assert counts == [2, 3, 5]
    sources = sorted(sum((s["sources"] for s in manifest["splits"].values()), []))
    assert sources == ["a.mp4", "b.gif", "c_frames"]
    batch = next(Loader(tmp_path / "mine", "train", batch_size=2, seed=0))
    assert batch["video_BTHWC"].shape == (2, t, tiny_cfg.data.height, tiny_cfg.data.width, 3)
    assert (batch["actions_BTm1"] == shards.NO_ACTION).all()
    assert batch["video_BTHWC"].std() > 10  # real picture content, not a blank


def test_a_single_video_is_split_in_time(tiny_cfg, video_folder, tmp_path):
    (tmp_path / "one").mkdir()
    for i, frame in enumerate(_platformer_video(3, 160)):
        iio.imwrite(tmp_path / "one" / f"{i:04d}.png", frame)
    manifest = import_videos(tmp_path / "one", tmp_path / "out", tiny_cfg, log=lambda *_: None)
    assert manifest["import"]["split_by"] == "time"
    assert [manifest["splits"][s]["num_clips"] for s in shards.SPLITS] == [16, 2, 2]
    t0 = {s: [shards.ClipSource(tmp_path / "out", s)[i]["t0"] for i in range(2)] for s in ("val", "test")}
    assert max(t0["val"]) < min(t0["test"])


def test_undecodable_video_and_empty_folder(tiny_cfg, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(shards.DataError, match="holds no videos"):
        import_videos(tmp_path / "empty", tmp_path / "out", tiny_cfg)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.mp4").write_bytes(b"not a video at all")
    with pytest.raises(shards.DataError, match="cannot decode .*broken.mp4"):
        import_videos(tmp_path / "bad", tmp_path / "out", tiny_cfg)
    with pytest.raises(shards.DataError, match="is not a folder"):
        import_videos(tmp_path / "missing", tmp_path / "out", tiny_cfg)


def test_import_into_a_folder_that_is_not_empty(tiny_cfg, video_folder, tmp_path):
    """Another folder's files are never touched; a dataset there is replaced only when asked, and
    then wholly (no shard of the old one left behind)."""
    from genie.config import override

    quiet = lambda *_: None
    listing = lambda d: sorted((p.name, p.stat().st_mtime_ns) for p in d.iterdir())
    before = listing(video_folder)
    with pytest.raises(shards.DataError, match="holds files that are not a dataset"):
        import_videos(video_folder, video_folder, tiny_cfg, log=quiet)  # --out pointed at the videos
    assert listing(video_folder) == before
    out = tmp_path / "mine"
    import_videos(video_folder, out, override(tiny_cfg, {"data.clips_per_shard": 1}), log=quiet)
    many = listing(out)
    with pytest.raises(shards.DataError, match="already holds a dataset.*--overwrite"):
        import_videos(video_folder, out, tiny_cfg, log=quiet)
    assert listing(out) == many
    manifest = import_videos(video_folder, out, tiny_cfg, log=quiet, overwrite=True)
    kept = {s["file"] for split in manifest["splits"].values() for s in split["shards"]} | {shards.MANIFEST}
    assert {p.name for p in out.iterdir()} == kept and len(kept) < len(many)
