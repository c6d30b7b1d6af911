"""Speed measurements; `scripts/benchmark.py` writes them as JSON."""

from __future__ import annotations

import multiprocessing
import os
import pathlib
import resource
import tempfile
import time

import numpy as np

from genie.config import Config
from genie.data import shards
from genie.data.loader import Loader
from genie.data.sources import get_source


def datagen(cfg: Config, batch_size: int = 8, load_batches: int = 200) -> dict:
    """Generation of cfg's dataset to disk (all workers), writing alone, and loading batches."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "data"
        manifest = get_source(cfg.data.source).generate(cfg, out, log=lambda *_: None)
        frames = sum(s["num_clips"] for s in manifest["splits"].values()) * cfg.data.clip_length

        # Writing alone: re-encode and write clips already in memory.
        source = shards.ClipSource(out, "train", verify_checksums=False)
        clips = [source[i] for i in range(min(len(source), 1024))]
        start = time.perf_counter()
        shards.write_shard(pathlib.Path(tmp) / "rewrite.array_record",
                           (shards.encode_clip(c["frames_THWC"], c["actions_Tm1"]) for c in clips))
        write_s = time.perf_counter() - start

        loader = Loader(out, "train", batch_size, seed=0)
        next(loader)  # the first batch pays for starting the prefetch threads
        start = time.perf_counter()
        for _ in range(load_batches):
            batch = next(loader)
        load_s = time.perf_counter() - start
    return {
        "resolution": [cfg.data.height, cfg.data.width],
        "clip_length": cfg.data.clip_length,
        "frames": frames,
        "workers": manifest["generation"]["workers"],
        "frames_per_s": manifest["generation"]["frames_per_s"],
        "write_frames_per_s": round(len(clips) * cfg.data.clip_length / write_s, 1),
        "load_batches_per_s": round(load_batches / load_s, 1),
        "load_batch_shape": list(np.shape(batch["video_BTHWC"])),
    }


def params(cfg: Config) -> dict:
    """Parameter counts of each model at cfg's shapes (built abstractly: no memory, no time)."""
    from flax import nnx

    from genie.models import build_models, count_params  # JAX only for the model targets

    models = nnx.eval_shape(lambda: build_models(cfg, 0))
    return {name: count_params(model) for name, model in models.items()}


def matmul_flops(size: int = 2048, repeats: int = 20) -> float:
    """This machine's dense float32 matmul throughput in FLOP/s, measured."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def chain(x):  # dependent matmuls, so none can be skipped or hoisted
        return jax.lax.fori_loop(0, repeats, lambda _, y: jnp.tanh(y @ x), x)

    x = jax.random.normal(jax.random.key(0), (size, size)) / size ** 0.5
    chain(x).block_until_ready()
    start = time.perf_counter()
    chain(x).block_until_ready()
    return 2 * size ** 3 * repeats / (time.perf_counter() - start)


def _train_stage_speed(cfg: Config, stage_name: str, steps: int) -> dict:
    """Step time of one stage on random data, in this (fresh) process."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from genie.models import count_params
    from genie.nn.compute import resolve
    from genie.train.optim import make_optimizer
    from genie.train.stages import make_stage
    from genie.train.trainer import jit_train_step

    stage, how = make_stage(stage_name, cfg), resolve(cfg.compute)
    if not count_params(stage.trainable):  # e.g. a pixel-code tokenizer: fitted, never trained
        return {"trainable_params": 0}
    optimizer = nnx.Optimizer(stage.trainable, make_optimizer(stage.optim), wrt=nnx.Param)
    step_fn, state, frozen_state = jit_train_step(stage, cfg, optimizer)

    b, t = stage.optim.batch_size, cfg.data.clip_length
    video = jnp.asarray(np.random.default_rng(0).integers(0, 256, (b, t, cfg.data.height, cfg.data.width, 3),
                                                          dtype=np.uint8))
    key = jax.random.key(0)
    features, features_s = {}, 0.0
    if stage.features is not None:  # the frozen models' forward pass, paid once per clip when cached
        compute = stage.frozen_features()
        features = jax.block_until_ready(compute(video))
        start = time.perf_counter()
        for _ in range(steps):
            jax.block_until_ready(compute(video))
        features_s = (time.perf_counter() - start) / steps
    start = time.perf_counter()
    compiled = step_fn.lower(state, frozen_state, video, features, jnp.int32(0), key).compile()
    compile_s = time.perf_counter() - start
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    memory = _largest_batch(step_fn, compiled, (state, frozen_state, video, features, jnp.int32(0), key))
    state, metrics = compiled(state, frozen_state, video, features, jnp.int32(0), key)  # warm-up
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        state, metrics = compiled(state, frozen_state, video, features, jnp.int32(step), key)
    jax.block_until_ready(metrics)
    step_s = (time.perf_counter() - start) / steps
    return {
        "step_s": round(step_s, 4),  # with the frozen models' features given (a cached clip)
        "frozen_features_s": round(features_s, 4),  # what computing them adds (a clip's first visit)
        "frames_per_s": round(b * t / step_s, 1),
        "compile_s": round(compile_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **_device_peak(),
        **memory,
        "flops_per_step": float(cost.get("flops", 0.0)),
        "achieved_flop_per_s": round(float(cost.get("flops", 0.0)) / step_s, 1),
        "batch": [b, t, cfg.data.height, cfg.data.width],
        "compute": {"precision": how.dtype.name, "attention": how.attention, "remat": how.remat},
    }


def _step_bytes(compiled) -> int:
    """What one call of a compiled step holds at its peak: its inputs, outputs and temporaries."""
    m = compiled.memory_analysis()
    return m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes + m.temp_size_in_bytes


def _largest_batch(step_fn, compiled, args) -> dict:
    """The step's memory at its batch B (from XLA's buffer assignment) and an estimate of the
    largest batch one device holds: the step compiled again for 2B (abstractly: nothing runs)
    gives the bytes per clip, what is left the fixed part (parameters, optimizer state)."""
    import jax

    state, frozen_state, video, features, step, key = args
    b = video.shape[0]
    double = lambda x: jax.ShapeDtypeStruct((2 * x.shape[0], *x.shape[1:]), x.dtype)
    at_2b = step_fn.lower(state, frozen_state, double(video), jax.tree.map(double, features), step, key).compile()
    at_b = _step_bytes(compiled)
    per_clip = (_step_bytes(at_2b) - at_b) / b
    fixed = at_b - per_clip * b
    # An accelerator's own memory, or this machine's RAM for a CPU.
    limit = _memory_stats().get("bytes_limit") or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"step_memory_mb": round(at_b / 2 ** 20, 1), "memory_per_clip_mb": round(per_clip / 2 ** 20, 2),
            "device_memory_mb": round(limit / 2 ** 20),
            "largest_batch_estimate": int((0.9 * limit - fixed) // per_clip)}  # leaving a tenth free


def _memory_stats() -> dict:
    """The first device's memory counters ({} on CPU, which keeps none)."""
    import jax

    return jax.devices()[0].memory_stats() or {}


def _device_peak() -> dict:
    """An accelerator's peak memory in use so far ({} on CPU)."""
    stats = _memory_stats()
    if "peak_bytes_in_use" not in stats:
        return {}
    return {"peak_device_memory_mb": round(stats["peak_bytes_in_use"] / 2 ** 20, 1)}


def train(cfg: Config, steps: int = 5) -> dict:
    """Per stage: step time, frames/s, compile time, peak memory, FLOP/s; each stage in a fresh
    process so that its peak memory is its own."""
    from genie.models import STAGES

    results = {}
    context = multiprocessing.get_context("spawn")
    for name in STAGES:
        with context.Pool(1) as pool:
            results[name] = pool.apply(_train_stage_speed, (cfg, name, steps))
    with context.Pool(1) as pool:
        results["machine_matmul_flop_per_s"] = round(pool.apply(matmul_flops), 1)
    for name in (name for name in STAGES if "achieved_flop_per_s" in results[name]):
        results[name]["fraction_of_matmul_peak"] = round(
            results[name]["achieved_flop_per_s"] / results["machine_matmul_flop_per_s"], 3)
    return results


def play(cfg: Config, cycles: int = 2, uncached_frames: int = 3, min_seconds: float = 3.0,
         devices: int | None = None) -> dict:
    """Frames per second of playing a world at batch 1 (random weights: speed does not depend
    on them; ternary layers frozen, as played), split over `devices` (None: as PlaySession
    chooses). Cached: PlaySession.step over whole slides of the window past its end, so the
    periodic refill of the caches is counted;
    uncached (every MaskGIT step reruns the whole window, as the public peers do), on one
    device, where its large products run faster than split: a fixed-shape window, the same
    cost at every frame. Each is timed over at least `cycles` slides (`uncached_frames` frames)
    and at least `min_seconds`: a few fast frames alone vary by tens of percent on a busy CPU."""
    import functools

    import jax
    import jax.numpy as jnp
    from flax import nnx

    from genie.models import build_models
    from genie.nn.bitlinear import freeze_ternary
    from genie.play.session import PlaySession
    from genie.sample import rollout

    models = {name: freeze_ternary(m) for name, m in build_models(cfg, cfg.seed).items()}  # as load_run gives them
    session = PlaySession(cfg, models, devices=devices)
    actions = lambda n: [i % session.num_actions for i in range(n)]
    start = time.perf_counter()
    session.reset(np.zeros((cfg.data.height, cfg.data.width, 3), np.uint8))
    session.step(0)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for a in actions(session.context - 2):  # fill the window
        session.step(a)
    filling_s = (time.perf_counter() - start) / (session.context - 2)
    cached_frames, start = 0, time.perf_counter()
    while cached_frames < cycles * session.slide or time.perf_counter() - start < min_seconds:
        for a in actions(session.slide):  # whole slides, so that each refill of the caches counts
            session.step(a)
        cached_frames += session.slide
    cached_s = (time.perf_counter() - start) / cached_frames

    graphdef, params = nnx.split((models["tokenizer"], models["dynamics"]))

    @functools.partial(jax.jit, static_argnums=(3,))
    def uncached(params, state, key, steps):
        tokenizer, dynamics = nnx.merge(graphdef, params)
        frame, _, state = rollout.next_frame_uncached(tokenizer, dynamics, state, jnp.zeros((1,), jnp.int32), key,
                                                      steps, session.temperature, cfg.sampling.choice_temperature,
                                                      session.slide)
        return frame, state

    tokens = jnp.zeros((1, 1, models["tokenizer"].num_tokens), jnp.int32)
    state = rollout.init_state(tokens, jnp.zeros((1, 0), jnp.int32), session.context)
    start = time.perf_counter()
    frame, state = jax.block_until_ready(uncached(params, state, jax.random.key(0), session.maskgit_steps))
    compile_uncached_s = time.perf_counter() - start
    done, start = 0, time.perf_counter()
    while done < uncached_frames or time.perf_counter() - start < min_seconds:
        frame, state = jax.block_until_ready(uncached(params, state, jax.random.key(done), session.maskgit_steps))
        done += 1
    uncached_s = (time.perf_counter() - start) / done
    return {
        "fps_cached": round(1 / cached_s, 2),
        "fps_cached_while_filling": round(1 / filling_s, 2),
        "fps_uncached": round(1 / uncached_s, 3),
        "speedup": round(uncached_s / cached_s, 1),
        "compile_s": round(compile_s, 2),
        "compile_uncached_s": round(compile_uncached_s, 2),
        "maskgit_steps": session.maskgit_steps,
        "frames_timed": {"cached": cached_frames, "uncached": done},
        "context": session.context,
        "devices": session.devices,
        "slide": session.slide,
        "frame": [cfg.data.height, cfg.data.width],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
