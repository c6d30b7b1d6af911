"""One trainer for every stage: resume, the jitted step, checkpoints, signals, NaN stop, logs.

Per-step randomness is `fold_in(key, step)` and the loader's position is checkpointed, so a
run killed at any point and resumed continues with exactly the losses of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import pathlib
import signal
import time

import imageio.v3 as iio
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genie.checkpoint import COMPLETE, Checkpoints, is_complete, restore_latest
from genie.config import Config, to_dict
from genie.data.dataset import check_dataset
from genie.data.frames import to_float
from genie.data.loader import Loader
from genie.eval.metrics import psnr_of_mse
from genie.models import count_params, stage_signature
from genie.train import sharding
from genie.train.features import FrozenFeatures
from genie.train.logging import RunLog
from genie.train.optim import learning_rate, make_optimizer
from genie.train.stages import STAGE_SEEDS, Stage


class NonFiniteLoss(RuntimeError):
    """Training produced NaN or Inf; the last good checkpoint is kept."""


class StopRequested(Exception):
    """SIGTERM or SIGINT arrived; a checkpoint was saved."""


class _Signals:
    """Turns SIGTERM/SIGINT into a flag the loop checks between steps."""

    def __init__(self):
        self.received = None

    def __enter__(self):
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGINT)}
        return self

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name

    def __exit__(self, *exc):
        for s, handler in self._old.items():
            signal.signal(s, handler)


def parameter_fingerprint(module: nnx.Module) -> str:
    """A hash of the parameters as this process holds them (its first local copy or shard)."""
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(nnx.state(module, nnx.Param)):
        digest.update(np.asarray(leaf.addressable_data(0)).tobytes())
    return digest.hexdigest()[:16]


def make_train_step(stage: Stage, cfg: Config):
    """The (unjitted) update of one step: (trainable, optimizer, frozen, uint8 video, features, step, key)
    -> metrics; features: what stage.features made of the batch, or {}."""
    restart_every = cfg.train.restart_dead_codes_every

    def train_step(trainable, optimizer, frozen, video_BTHWC, features, step, key):
        key = jax.random.fold_in(key, step)
        loss_key, restart_key = jax.random.split(key)
        video = to_float(video_BTHWC)

        def loss_fn(trainable):
            value, metrics, z = stage.loss(trainable, frozen, video, features, loss_key)
            return value, (metrics, z)

        (_, (metrics, z)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(trainable)
        optimizer.update(trainable, grads)
        quantizer = stage.quantizer(trainable)
        if quantizer is not None and restart_every:
            metrics["codes_restarted"] = quantizer.restart_dead_codes(z, restart_key, enabled=(step + 1) % restart_every == 0)
        metrics["grad_norm"] = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))
        return metrics

    return train_step


def jit_train_step(stage: Stage, cfg: Config, optimizer: nnx.Optimizer):
    """`make_train_step` as a jitted pure function, with the modules split once: returns
    (step_fn, state, frozen_state) where step_fn(state, frozen_state, video, features, step, key)
    -> (new state, metrics); state is nnx.state((stage.trainable, optimizer)), donated to each call (the modules hold
    deleted arrays until `nnx.update` gives them a returned state). nnx.jit would walk the
    trainable, optimizer and frozen models' graphs at every call; at configs/cpu.py that cost
    little (a cached dynamics step 0.475 s with it, 0.470 without), but the benchmark now times
    the very function training runs."""
    update = make_train_step(stage, cfg)
    graphdef, state = nnx.split((stage.trainable, optimizer))
    frozen_graphdef, frozen_state = nnx.split(stage.frozen)

    def pure(state, frozen_state, video, features, step, key):
        trainable, optimizer = nnx.merge(graphdef, state)
        metrics = update(trainable, optimizer, nnx.merge(frozen_graphdef, frozen_state), video, features, step, key)
        return nnx.state((trainable, optimizer)), metrics

    return jax.jit(pure, donate_argnums=0), state, frozen_state


def _write_samples(stage: Stage, directory: pathlib.Path, step: int, video_BTHWC, key) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    video = to_float(video_BTHWC)
    for name, image in stage.sample(stage.trainable, stage.frozen, video, key).items():
        if image.ndim == 4:
            iio.imwrite(directory / f"{name}_{step:07d}.gif", image, duration=120, loop=0)
        else:
            iio.imwrite(directory / f"{name}_{step:07d}.png", image)


def train_stage(stage: Stage, cfg: Config, workdir: pathlib.Path, data_dir: pathlib.Path) -> None:
    """Trains one stage to cfg's step count, resuming from its latest checkpoint."""
    check_dataset(cfg, data_dir)
    stage_dir = workdir / stage.name
    ocfg, tcfg = stage.optim, cfg.train
    mesh = sharding.make_mesh()
    if ocfg.batch_size % jax.device_count():
        raise ValueError(f"train.{stage.name}.batch_size={ocfg.batch_size} does not split over "
                         f"{jax.device_count()} devices")
    checkpoints = Checkpoints(stage_dir / "checkpoints", tcfg.keep_checkpoints, stage.signature,
                              stage_signature(stage.name, Config()), async_save=tcfg.async_checkpoints)
    latest = checkpoints.latest_step()
    key = jax.random.key(cfg.seed + STAGE_SEEDS[stage.name])
    init_report = None
    if latest is None and tcfg.init_from is not None:
        init_report = _start_from_run(stage, pathlib.Path(tcfg.init_from))
    elif latest is None and stage.init is not None:  # every process fits the same data alike
        started = time.perf_counter()
        init_report = stage.init(stage.trainable, data_dir, jax.random.split(key)[1])
        init_report["seconds"] = round(time.perf_counter() - started, 2)
    for module in [stage.trainable, *stage.frozen.values()]:
        sharding.place(module, mesh, tcfg.param_sharding)
    optimizer = nnx.Optimizer(stage.trainable, make_optimizer(ocfg), wrt=nnx.Param)
    sharding.place(optimizer, mesh, tcfg.param_sharding)  # as the step returns it: no second compile
    loader = Loader(data_dir, "train", ocfg.batch_size // jax.process_count(),
                    seed=cfg.seed + STAGE_SEEDS[stage.name],
                    shard_index=jax.process_index(), shard_count=jax.process_count())

    step = 0
    if latest is not None:
        model_state, optimizer_state, loader_state = checkpoints.restore(
            latest, nnx.state(stage.trainable), nnx.state(optimizer))
        nnx.update(stage.trainable, model_state)
        nnx.update(optimizer, optimizer_state)
        loader.set_state(loader_state)
        step = latest

    log = RunLog(stage_dir, stage.name, ocfg.steps, step, tcfg.wandb, to_dict(cfg))
    train_step, state, frozen_state = jit_train_step(stage, cfg, optimizer)

    def sync() -> None:
        """The modules take the state the last step returned."""
        nnx.update((stage.trainable, optimizer), state)

    def save(at: int):
        """Saves a checkpoint; returns the state to go on from (calibration changes it)."""
        sync()
        if stage.calibrate is not None:
            stage.calibrate(stage.trainable, data_dir)
        checkpoints.save(at, nnx.state(stage.trainable), nnx.state(optimizer), loader.get_state(),
                         {"stage": stage.name, "config": to_dict(cfg)})
        return nnx.state((stage.trainable, optimizer))

    features = None
    if stage.features is not None:
        features = FrozenFeatures(stage.frozen_features(), mesh, tcfg.cache_frozen)
    schedule = learning_rate(ocfg)
    batch_sharding = sharding.batch_sharding(mesh)
    frames_per_step = ocfg.batch_size * cfg.data.clip_length
    log.event(event="start", stage=stage.name, step=step, devices=jax.device_count(),
              processes=jax.process_count(), trainable_params=count_params(stage.trainable),
              frozen_params={k: count_params(v) for k, v in stage.frozen.items()})
    if init_report is not None:
        log.event(event="init", **init_report)
    try:
        with _Signals() as signals:
            last_good = latest
            window_start, window_steps = time.perf_counter(), 0
            while step < ocfg.steps:
                batch = next(loader)
                video = sharding.global_batch(batch["video_BTHWC"], batch_sharding)
                started = time.perf_counter()
                inputs = features(batch["index_B"], video) if features is not None else {}
                state, metrics = train_step(state, frozen_state, video, inputs, jnp.asarray(step, jnp.int32), key)
                metrics = jax.device_get(metrics)
                if step == (latest or 0):
                    log.event(event="compiled", seconds=round(time.perf_counter() - started, 2))
                    window_start, window_steps = time.perf_counter(), 0
                bad = sorted((k for k, v in metrics.items() if not np.all(np.isfinite(v))), key=lambda k: k != "loss")
                if bad:
                    where = f"step {last_good} in {checkpoints.directory}" if last_good is not None else "none yet"
                    raise NonFiniteLoss(f"{stage.name}: metric {bad[0]!r} became {metrics[bad[0]]} at step {step}; "
                                        f"stopped. The last good checkpoint is {where}. Lower the learning rate "
                                        "or check the data, then run again to resume from it")
                step += 1
                window_steps += 1
                log.advance()
                if step % tcfg.log_every == 0 or step == ocfg.steps:
                    elapsed = time.perf_counter() - window_start
                    if "mse" in metrics:
                        metrics["psnr"] = psnr_of_mse(metrics["mse"])
                    log.metrics(step, {**metrics, "lr": schedule(step - 1),
                                       "frames_per_s": frames_per_step * window_steps / max(elapsed, 1e-9)})
                    window_start, window_steps = time.perf_counter(), 0
                # Pictures need the whole model on one host; multi-host runs leave them out.
                if tcfg.sample_every and step % tcfg.sample_every == 0 and jax.process_count() == 1:
                    sync()
                    _write_samples(stage, stage_dir / "samples", step, batch["video_BTHWC"], key)
                if step % tcfg.checkpoint_every == 0 or step == ocfg.steps:
                    state = save(step)
                    last_good = step
                if signals.received:
                    if last_good != step:
                        state = save(step)
                    log.event(event="stopped", signal=signals.received, step=step)
                    raise StopRequested(f"{signals.received} at step {step} of {stage.name}: checkpoint saved in "
                                        f"{checkpoints.directory}; run the same command again to resume")
            if latest is None and ocfg.steps == 0:  # a stage of 0 steps keeps what its init made
                state = save(0)
        sync()
        # Every process reports the same fingerprint when their parameters agree.
        fingerprint = parameter_fingerprint(stage.trainable)
        print(f"{stage.name}: done at step {step}, parameter fingerprint {fingerprint} "
              f"(process {jax.process_index()})", flush=True)
        checkpoints.wait()  # complete only once its last checkpoint is written
        if jax.process_index() == 0:
            (stage_dir / COMPLETE).write_text(f"{step}\n")
    finally:
        log.close()
        checkpoints.close()


def _start_from_run(stage: Stage, source: pathlib.Path) -> dict:
    """Starts the stage from the latest weights of the same stage of run `source`, of the same
    shapes: a float run's weights start a ternary model's (quantisation-aware fine-tuning)."""
    from genie.runs import load_config_of

    step = restore_latest(stage.name, stage.trainable, load_config_of(source), source)
    if step is None:
        raise FileNotFoundError(f"train.init_from={source} holds no checkpoint of the {stage.name} stage; train "
                                f"it there first, or leave train.init_from unset to start from scratch")
    return {"init_from": str(source), "init_from_step": step}


def restore_trained(stage_name: str, module: nnx.Module, cfg: Config, workdir: pathlib.Path) -> int:
    """Loads the final parameters of a completed earlier stage into `module`; returns its step."""
    stage_dir = workdir / stage_name
    if not is_complete(stage_dir):
        raise FileNotFoundError(f"the dynamics stage needs a trained {stage_name}, but {stage_dir} holds no "
                                f"completed {stage_name} stage; run: python scripts/train.py --stage {stage_name}")
    return restore_latest(stage_name, module, cfg, workdir)
