"""The PlaySession API on a tiny trained run: prompts, stepping past the context, errors, recordings."""

import subprocess
import sys
import textwrap

import imageio.v3 as iio
import numpy as np
import pytest

from genie.play.session import PlaySession, PromptError
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def session(tiny_run):
    return PlaySession.load(tiny_run)


def test_plays_from_a_png_prompt_far_past_the_context_without_recompiling(session, prompt_png):
    first = session.reset(prompt_png)
    assert first.shape == (32, 32, 3) and first.dtype == np.uint8
    frames = [session.step(i % session.num_actions) for i in range(100)]  # the context is 8 frames
    assert all(f.shape == (32, 32, 3) and f.dtype == np.uint8 for f in frames)
    assert session._step._cache_size() == 1  # one compilation for every frame
    assert len(session.frames) == 101 and session.actions[:3] == [0, 1, 2]


def test_the_same_seed_and_actions_replay_the_same_frames(session, prompt_png):
    runs = []
    for _ in range(2):
        session.reset(prompt_png, seed=7)
        runs.append([session.step(a) for a in (1, 2, 3, 0, 1, 2, 3, 0, 1, 2)])
    np.testing.assert_array_equal(np.stack(runs[0]), np.stack(runs[1]))
    session.reset(prompt_png, seed=8)
    other = [session.step(a) for a in (1, 2, 3, 0, 1, 2, 3, 0, 1, 2)]
    assert not np.array_equal(np.stack(runs[0]), np.stack(other))  # sampling depends on the seed


def test_prompts_of_every_kind(session, tiny_data):
    assert session.reset(np.zeros((10, 20), np.uint8)).shape == (32, 32, 3)  # grayscale, another aspect
    assert session.reset(np.ones((64, 64, 3), np.float32)).max() == 255  # floats in [0, 1]
    session.reset_from_dataset(tiny_data, split="test", index=3, frames=3)  # 3 frames, actions from the LAM
    assert len(session.frames) == 3
    session.step(0)
    assert session.reset_to_level(5).shape == (32, 32, 3)


def test_bad_prompts_and_actions_are_clear_errors(session, tmp_path, prompt_png):
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    for prompt, message in [(tmp_path / "missing.png", "cannot read the prompt image"),
                            (not_an_image, "cannot read the prompt image"),
                            (np.zeros((0, 0, 3), np.uint8), "empty"),
                            (np.zeros((2, 2, 2, 2, 3)), "a prompt is"),
                            (np.full((8, 8, 3), np.nan), "NaN")]:
        with pytest.raises(PromptError, match=message):
            session.reset(prompt)
    session.reset(prompt_png)
    for action in (-1, session.num_actions, 1.5, "2", True, None):
        with pytest.raises(ValueError, match="an action is an integer in 0..3"):
            session.step(action)
    assert len(session.frames) == 1  # nothing happened
    with pytest.raises(PromptError, match="has clips 0..15"):
        session.reset_from_dataset(index=99)


def test_the_session_saves_as_gif_and_mp4(session, prompt_png, tmp_path):
    session.reset(prompt_png)
    for a in (0, 1, 2):
        session.step(a)
    gif = iio.imread(session.save(tmp_path / "s.gif", scale=2))
    assert gif.shape[0] == 4 and gif.shape[1:3] == (64, 64)
    mp4 = iio.imread(session.save(tmp_path / "s.mp4"))
    assert mp4.shape[0] == 4
    with pytest.raises(ValueError, match=".gif or .mp4"):
        session.save(tmp_path / "s.avi")


def test_a_run_without_dynamics_cannot_be_played(tiny_cfg, tiny_data, tmp_path):
    from genie import pipeline
    from genie.config import override

    cfg = override(tiny_cfg, {"data.dir": str(tiny_data), "train.sample_every": 0})
    pipeline.run(cfg, tmp_path, stages=("tokenizer",), log=lambda *_: None)
    with pytest.raises(FileNotFoundError, match="has no trained dynamics"):
        PlaySession.load(tmp_path)


SPLIT_PLAY = textwrap.dedent("""
    import sys
    import numpy as np
    from genie import cores
    cores.split_cpu(2)
    from genie.play.session import PlaySession
    split, whole = (PlaySession.load(sys.argv[1], devices=n, seed=3) for n in (2, 1))
    split.reset(sys.argv[2]); whole.reset(sys.argv[2])
    for i in range(20):  # past the context of 8 frames: refills of the caches too
        a, b = split.step(i % split.num_actions), whole.step(i % whole.num_actions)
        assert np.abs(a.astype(int) - b).max() <= 1, (i, np.abs(a.astype(int) - b).max())
    assert split._step._cache_size() == 1
    assert {d.id for d in split._state.dynamics_cache[0][0].devices()} == {0, 1}
    print("same frames")
""")


def test_a_world_split_over_two_devices_plays_the_same_frames(tiny_run, prompt_png):
    # Tensor parallelism over two CPU devices (a subprocess: the device count is fixed at start).
    result = subprocess.run([sys.executable, "-c", SPLIT_PLAY, str(tiny_run), str(prompt_png)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0 and "same frames" in result.stdout, result.stderr[-3000:]


def test_splitting_over_devices_that_are_not_there_is_a_clear_error(tiny_run):
    with pytest.raises(ValueError, match="cannot split play over 4 devices: 1 here"):
        PlaySession.load(tiny_run, devices=4)
