"""The three training stages: what each trains, what it keeps frozen, its loss and pictures.

Tokenizer and LAM train alone on pixels. The dynamics stage restores both, keeps the tokenizer
frozen, and either keeps the LAM frozen or co-trains it (train.cotrain_lam): the optimizer only
ever sees the parameters of `Stage.trainable`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genie.config import Config, ConfigError, OptimConfig
from genie.data.frames import grid, stack_clips, to_float, to_uint8
from genie.data.shards import ClipSource
from genie.eval.metrics import psnr_of_mse
from genie.models import Cotrained, build_models, stage_signature
from genie.models.lam import LatentActionModel
from genie.models.patch_tokenizer import PatchTokenizer
from genie.models.tokenizer import VideoTokenizer
from genie.sample import rollout

# Each stage draws its own data order and randomness from the run's seed.
STAGE_SEEDS = {"tokenizer": 0, "lam": 1000, "dynamics": 2000}


@dataclasses.dataclass
class Stage:
    name: str
    optim: OptimConfig
    trainable: nnx.Module
    frozen: dict  # name -> module, restored from earlier stages, never updated
    # loss(trainable, frozen, video_BTHWC float, features, key) -> (loss, metrics, latents for the VQ
    # restart or None); features: what `features` made of the batch ({} for a stage without it)
    loss: Callable
    quantizer: Callable  # trainable -> the Quantizer whose dead codes the trainer restarts, or None
    sample: Callable  # (trainable, frozen, video_BTHWC float, key) -> {name: uint8 image or [T,H,W,C] video}
    signature: dict  # config fields a checkpoint of this stage must match
    # init(trainable, data_dir, key) -> {name: value} to log: a data-dependent start, run once
    # before step 0 of a new run (never on resume: the checkpoint holds its result)
    init: Callable | None = None
    # calibrate(trainable, data_dir): sets what inference needs from the data, before every save
    calibrate: Callable | None = None
    # features(frozen, video_BTHWC float) -> {name: [B, ...]}: what the frozen models make of a
    # batch, computed outside the gradient step (once per clip with train.cache_frozen)
    features: Callable | None = None

    def frozen_features(self) -> Callable:
        """A jitted uint8 video_BTHWC -> `features` of it, by this stage's frozen models as they
        are now (split once: nnx.jit would walk their graphs at every call)."""
        graphdef, state = nnx.split(self.frozen)
        compute = jax.jit(lambda state, video: self.features(nnx.merge(graphdef, state),
                                                             to_float(video)))
        return lambda video_BTHWC: compute(state, video_BTHWC)


def _tile(video_NTHWC) -> np.ndarray:
    """[N, T, H, W, C] -> one image [N*H, T*W, C] with clips as rows."""
    return grid(np.asarray(video_NTHWC))


_encode = nnx.jit(lambda lam, video: lam.encode(video))


def _calibrate_lam(cfg: Config, lam: LatentActionModel, data_dir) -> None:
    """Calibrates the LAM on the first `lam.calibration_clips` training clips (the same clips at
    every save, so a resumed run saves what an uninterrupted one does)."""
    source = ClipSource(data_dir, "train")
    n, batch = min(cfg.lam.calibration_clips, len(source)), cfg.train.lam.batch_size
    z = []
    for start in range(0, n, batch):
        video, _ = stack_clips([source[i] for i in range(start, min(start + batch, n))])
        z.append(_encode(lam, to_float(video)))
    lam.calibrate(jnp.concatenate(z).reshape(-1, cfg.lam.quantizer.code_dim))


def _tokenizer_stage(cfg: Config, models: dict) -> Stage:
    if cfg.tokenizer.quantizer.kind == "pixel" and cfg.train.tokenizer.steps:
        raise ConfigError("tokenizer.quantizer.kind='pixel': the tokenizer is its k-means codes and has nothing "
                          f"to train; set train.tokenizer.steps=0 (it is {cfg.train.tokenizer.steps})")

    def loss(tok: VideoTokenizer, frozen, video, features, key):
        return tok.loss(video)

    def sample(tok, frozen, video, key):
        recon = tok(video[:4])[0]
        pairs = np.stack([to_uint8(video[:4]), to_uint8(recon)], axis=1).reshape(-1, *video.shape[1:])
        return {"reconstruction": _tile(pairs)}  # rows: original, reconstruction, original, ...

    def fit_codes(tok: PatchTokenizer, data_dir, key):
        source = ClipSource(data_dir, "train")
        clips = np.random.default_rng(cfg.seed).choice(len(source), min(cfg.tokenizer.kmeans_clips, len(source)),
                                                       replace=False)
        video, _ = stack_clips([source[int(i)] for i in np.sort(clips)], slice(None, None, 4))
        mse = tok.fit_codes(to_float(video), key)
        return {"kmeans_clips": len(clips), "kmeans_psnr": round(float(psnr_of_mse(mse)), 3)}

    return Stage("tokenizer", cfg.train.tokenizer, models["tokenizer"], {}, loss, lambda tok: tok.vq, sample,
                 stage_signature("tokenizer", cfg), fit_codes if cfg.tokenizer.quantizer.kind == "pixel" else None)


def _lam_stage(cfg: Config, models: dict) -> Stage:
    def loss(lam: LatentActionModel, frozen, video, features, key):
        return lam.loss(video)

    def sample(lam, frozen, video, key):
        pred = lam(video[:4])[0]
        pairs = np.stack([to_uint8(video[:4, 1:]), to_uint8(pred)], axis=1).reshape(-1, *pred.shape[1:])
        return {"next_frames": _tile(pairs)}  # rows: true frames 1..T-1, predicted frames 1..T-1

    calibrate = (lambda lam, data_dir: _calibrate_lam(cfg, lam, data_dir)) if cfg.lam.quantizer.kind == "fsq" else None
    return Stage("lam", cfg.train.lam, models["lam"], {}, loss, lambda lam: lam.vq, sample, stage_signature("lam", cfg),
                 calibrate=calibrate)


def _dynamics_stage(cfg: Config, models: dict) -> Stage:
    cotrain = cfg.train.cotrain_lam
    tokenizer, lam, dynamics = models["tokenizer"], models["lam"], models["dynamics"]
    trainable = Cotrained(dynamics, lam) if cotrain else dynamics
    frozen = {"tokenizer": tokenizer} if cotrain else {"tokenizer": tokenizer, "lam": lam}

    def parts(trainable, frozen):
        return (trainable.dynamics, trainable.lam) if cotrain else (trainable, frozen["lam"])

    def features(frozen, video):
        out = {"tokens_BTN": frozen["tokenizer"].encode(video)}
        if not cotrain:
            out["actions_BTm1"] = frozen["lam"].infer_actions(video)
        return out

    def loss(trainable, frozen, video, features, key):
        dyn, lam_model = parts(trainable, frozen)
        if cotrain:
            lam_loss, lam_metrics, z = lam_model.loss(video)
            actions = jax.lax.stop_gradient(lam_model.quantize(z)[1])
        else:
            actions, z = features["actions_BTm1"], None
        value, metrics = dyn.loss(features["tokens_BTN"], actions, key)
        if cotrain:
            value = value + lam_loss
            metrics = {**metrics, **{f"lam_{k}": v for k, v in lam_metrics.items()}, "loss": value}
        return value, metrics, z

    def sample(trainable, frozen, video, key):
        dyn, lam_model = parts(trainable, frozen)
        return {"rollout": dynamics_rollout(frozen["tokenizer"], lam_model, dyn, video[:4], key, cfg)}

    fsq = cfg.lam.quantizer.kind == "fsq"
    calibrate = (lambda m, data_dir: _calibrate_lam(cfg, m.lam, data_dir)) if cotrain and fsq else None
    return Stage("dynamics", cfg.train.dynamics, trainable, frozen, loss,
                 (lambda m: m.lam.vq) if cotrain else (lambda m: None), sample,
                 stage_signature("dynamics", cfg), calibrate=calibrate, features=features)


def dynamics_rollout(tokenizer, lam, dynamics, video_BTHWC, key, cfg: Config) -> np.ndarray:
    """Frames generated from each clip's first frame with the LAM's actions, beside the truth:
    uint8 [T, H, 2W, C] with the clips stacked vertically."""
    t = video_BTHWC.shape[1]
    sampling = cfg.sampling
    generated = rollout.generate(tokenizer, dynamics, video_BTHWC[:, :1], lam.infer_actions(video_BTHWC), key,
                                 sampling.maskgit_steps, sampling.temperature, sampling.choice_temperature, t)
    generated = jnp.concatenate([video_BTHWC[:, :1], generated], axis=1)
    side_by_side = np.concatenate([to_uint8(video_BTHWC), to_uint8(generated)], axis=3)  # [B,T,H,2W,C]
    return side_by_side.transpose(1, 0, 2, 3, 4).reshape(t, -1, *side_by_side.shape[3:])


def make_stage(name: str, cfg: Config, models: dict | None = None) -> Stage:
    models = models or build_models(cfg, cfg.seed)
    return {"tokenizer": _tokenizer_stage, "lam": _lam_stage, "dynamics": _dynamics_stage}[name](cfg, models)
