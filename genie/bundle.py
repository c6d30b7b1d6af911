"""A trained world packed for shipping: the three models' weights in one file, in half precision,
the weights of ternary layers five to a byte.

    export_bundle(load_run("runs/cpu"), "genie/worlds/platformer")   # scripts/export_bundle.py
    load_run("genie/worlds/platformer")                             # like any run: play, evaluate

A bundle is laid out like a run, so everything that reads runs reads it:

    config.json            the run's config
    world.json             format, source run, per stage its step and training time, sha256 of the weights
    weights.npz            "<stage>/<parameter path>" -> float16 (or float32) array; a ternary
                           layer's int8 weights packed in base 3 (its shape in world.json, "packed")
                           and its scale, like every scalar, in float32
    <stage>/metrics.jsonl  the run's training curves
    eval/                  scripts/evaluate.py's report on these weights (written after export)

Float16 halves the size against float32 and keeps about 3 significant digits of each weight;
the shipped world's metrics are measured on the float16 weights themselves (docs/record.md). The
ternary weights and scales are stored exactly: a ternary world plays what its run plays.
"""

from __future__ import annotations

import hashlib
import io
import json
import pathlib
import shutil
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genie.checkpoint import CheckpointError
from genie.models import STAGES

FORMAT = 2  # 2: ternary weights packed; a world of format 1 (none packed) reads the same
READS = (1, 2)
TRITS_PER_BYTE = 5  # 3^5 = 243 values fit in a byte: 1.6 bits a weight
WORLD_FILE, WEIGHTS_FILE = "world.json", "weights.npz"
SHIPPED = pathlib.Path(__file__).parent / "worlds" / "platformer"


def is_bundle(path: str | pathlib.Path) -> bool:
    return (pathlib.Path(path) / WORLD_FILE).is_file()


def _flat(module: nnx.Module) -> dict[str, jax.Array]:
    """The module's variables by path ("blocks/0/attn/kernel")."""
    return {"/".join(map(str, path)): variable.get_value() for path, variable in nnx.to_flat_state(nnx.state(module))}


def pack_trits(t: np.ndarray) -> np.ndarray:
    """Values in {-1, 0, 1} -> uint8, five base-3 digits a byte (the last byte padded with zeros)."""
    t = np.asarray(t)
    if not np.isin(t, (-1, 0, 1)).all():
        raise ValueError("only weights of -1, 0 and 1 pack into trits")
    digits = (t.reshape(-1).astype(np.int16) + 1).astype(np.uint8)
    digits = np.concatenate([digits, np.zeros(-digits.size % TRITS_PER_BYTE, np.uint8)])
    return (digits.reshape(-1, TRITS_PER_BYTE) * 3 ** np.arange(TRITS_PER_BYTE, dtype=np.uint8)).sum(1, np.uint8)


def unpack_trits(packed: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of pack_trits: int8 values in {-1, 0, 1} of `shape`."""
    digits = packed[:, None] // 3 ** np.arange(TRITS_PER_BYTE, dtype=np.uint8) % 3
    return (digits.reshape(-1)[:int(np.prod(shape))].astype(np.int8) - 1).reshape(shape)


def _stored(value, dtype: str) -> np.ndarray:
    """How a variable is stored: int8 (ternary weights) packed; scalars (a ternary layer's scale)
    in float32, exactly; other floats in `dtype`."""
    value = np.asarray(value)
    if value.dtype == np.int8:
        return pack_trits(value)
    if np.issubdtype(value.dtype, np.floating):
        return value.astype(np.float32 if value.ndim == 0 else dtype)
    return value


def _stage_seconds(metrics_path: pathlib.Path) -> float | None:
    """Wall time from the first to the last logged line of a stage (resumes included)."""
    if not metrics_path.is_file():
        return None
    times = [json.loads(line)["time"] for line in metrics_path.read_text().splitlines() if '"time"' in line]
    return round(times[-1] - times[0], 1) if len(times) > 1 else None


def export_bundle(run, out: str | pathlib.Path, dtype: str = "float16", overwrite: bool = False) -> pathlib.Path:
    """Writes `run` (a genie.runs.TrainedRun whose three stages have finished) as a bundle in `out`,
    which must be new or empty unless `overwrite` (then it is replaced whole)."""
    unfinished = [name for name in STAGES if not run.complete.get(name)]
    if unfinished:
        raise CheckpointError(f"{run.workdir}: {', '.join(unfinished)} not finished; finish training with: "
                              f"python scripts/train.py --workdir {run.workdir}")
    if dtype not in ("float16", "float32"):
        raise ValueError(f"weights are stored as float16 or float32, not {dtype}")
    out = pathlib.Path(out)
    if out.is_file() or (out.is_dir() and any(out.iterdir())):
        if not overwrite:
            raise FileExistsError(f"{out} already holds something; export to another --out, or replace it "
                                  "whole with --overwrite")
        shutil.rmtree(out) if out.is_dir() else out.unlink()  # a stale eval/ would describe other weights
    out.mkdir(parents=True, exist_ok=True)
    flat = {f"{name}/{path}": value for name in STAGES for path, value in _flat(run.models[name]).items()}
    np.savez_compressed(out / WEIGHTS_FILE, **{key: _stored(value, dtype) for key, value in flat.items()})
    packed = {key: list(value.shape) for key, value in flat.items() if value.dtype == jnp.int8}
    shutil.copy(run.workdir / "config.json", out / "config.json")
    stages = {}
    for name in STAGES:
        (out / name).mkdir()
        if (run.workdir / name / "metrics.jsonl").is_file():
            shutil.copy(run.workdir / name / "metrics.jsonl", out / name / "metrics.jsonl")
        stages[name] = {"step": run.steps[name], "train_seconds": _stage_seconds(out / name / "metrics.jsonl")}
    world = {"format": FORMAT, "source": str(run.workdir), "dtype": dtype, "stages": stages, "packed": packed,
             "sha256": hashlib.sha256((out / WEIGHTS_FILE).read_bytes()).hexdigest()}
    (out / WORLD_FILE).write_text(json.dumps(world, indent=2) + "\n")
    return out


def load_bundle(path: pathlib.Path, models: dict) -> dict:
    """Fills `models` (built from the bundle's config, ternary layers frozen) with its weights;
    returns world.json."""
    world = json.loads((path / WORLD_FILE).read_text())
    if world.get("format") not in READS:
        raise CheckpointError(f"{path} is a world of format {world.get('format')}; this genie reads "
                              f"{' and '.join(map(str, READS))}")
    weights = path / WEIGHTS_FILE
    redo = f"export it again with: python scripts/export_bundle.py --workdir <run> --out {path}"
    data = weights.read_bytes() if weights.is_file() else b""
    if hashlib.sha256(data).hexdigest() != world["sha256"]:
        raise CheckpointError(f"{weights} is missing or corrupt (its sha256 is not the one in {WORLD_FILE}); {redo}")
    try:
        with np.load(io.BytesIO(data)) as arrays:
            stored = {key: arrays[key] for key in arrays.files}
        stored.update({key: unpack_trits(stored[key], tuple(shape)) for key, shape in world.get("packed", {}).items()})
    except (zipfile.BadZipFile, ValueError, OSError, KeyError) as e:
        raise CheckpointError(f"cannot read {weights}: {e}; {redo}") from None
    for name in STAGES:
        state = nnx.state(models[name])
        for key, variable in nnx.to_flat_state(state):
            full = f"{name}/{'/'.join(map(str, key))}"
            expected = variable.get_value()
            if full not in stored or stored[full].shape != expected.shape:
                found = stored[full].shape if full in stored else "nothing"
                raise CheckpointError(f"{path}: {full} should be {expected.shape}, found {found}: the weights are "
                                      f"not of the model in its config.json; {redo}")
            variable.set_value(jnp.asarray(stored[full], expected.dtype))
        nnx.update(models[name], state)
    return world
