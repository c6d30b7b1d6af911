import pathlib

import pytest

from genie import hugepages
from genie.config import load_config
from genie.data.dataset import prepare_dataset

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The test workers and the scripts the tests start run with glibc's huge-page malloc, as the
# scripts do on their own (genie/hugepages.py); this file is read before the workers start.
hugepages.enable_for_new_processes()


@pytest.fixture(scope="session")
def tiny_cfg():
    return load_config(ROOT / "configs" / "tiny.py")


@pytest.fixture(scope="session")
def tiny_data(tiny_cfg, tmp_path_factory):
    """A generated tiny dataset, shared read-only by the tests."""
    out = tmp_path_factory.mktemp("data") / "tiny"
    prepare_dataset(tiny_cfg, out, log=lambda *_: None)
    return out


@pytest.fixture(scope="session")
def tiny_batch(tiny_data):
    """Two real clips from the tiny dataset as float32 in [0, 1]: [2, 8, 32, 32, 3]."""
    import numpy as np

    from genie.data.loader import Loader

    video = next(Loader(tiny_data, "train", batch_size=2, seed=0))["video_BTHWC"]
    return np.asarray(video, np.float32) / 255.0


def make_models(cfg, seed=0):
    """The three models at cfg's shapes: (tokenizer, lam, dynamics)."""

    from genie.models import build_models

    models = build_models(cfg, seed)
    return models["tokenizer"], models["lam"], models["dynamics"]


def shifted_tokens(cfg):
    """Token clips with structure to learn: 4 clips of 8 frames of 16 tokens, each frame the one
    before rolled by its action + 1. Returns (tokens_BTN, actions_BTm1)."""
    import jax
    import jax.numpy as jnp

    first = jax.random.randint(jax.random.key(3), (4, 1, 16), 0, cfg.tokenizer.quantizer.num_codes)
    actions = jax.random.randint(jax.random.key(4), (4, 7), 0, cfg.lam.num_actions)
    frames = [first[:, 0]]
    for t in range(7):
        frames.append(jax.vmap(jnp.roll)(frames[-1], actions[:, t] + 1))
    return jnp.stack(frames, axis=1), actions


def fit(model, loss_fn, steps, lr=3e-3):
    """Adam on loss_fn(model, step) -> (loss, metrics); returns the metrics of every step."""
    import jax
    import optax
    from flax import nnx

    optimizer = nnx.Optimizer(model, optax.adam(lr), wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, step):
        (_, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, step)
        optimizer.update(model, grads)
        return metrics

    history = []
    for step in range(steps):
        history.append(jax.device_get(train_step(model, optimizer, step)))
    return history


@pytest.fixture(scope="session")
def tiny_run(tiny_cfg, tiny_data, tmp_path_factory):
    """A tiny run trained through every stage, with its samples, and evaluated (so it has
    eval/action_map.json): what `scripts/train.py --config configs/tiny.py` makes."""
    from genie import pipeline
    from genie.config import override

    cfg = override(tiny_cfg, {"data.dir": str(tiny_data)})
    workdir = tmp_path_factory.mktemp("run")
    pipeline.run(cfg, workdir, stages=("tokenizer", "lam", "dynamics", "eval"), log=lambda *_: None)
    return workdir


@pytest.fixture
def prompt_png(tmp_path):
    """A prompt image of another size and with an alpha channel: 70x50 RGBA."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    path = tmp_path / "prompt.png"
    Image.fromarray(rng.integers(0, 255, (50, 70, 4), dtype=np.uint8), "RGBA").save(path)
    return path
