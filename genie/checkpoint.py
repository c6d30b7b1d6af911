"""Checkpoints of a stage with orbax: model, optimizer, step, data-loader position and the config;
restoring a stage's latest one into a model (training and inference alike).

A checkpoint records the config fields it depends on; restoring it under a config that
differs in any of them is refused with the list of differences, instead of failing on array
shapes (or worse, loading weights into a model they were not trained for). The sha256 of every
file of a checkpoint is kept beside it (`sha256/<step>.json`) and checked before it is read, so a
flipped bit, a truncated or a deleted file is refused rather than loaded as other weights.

Saves may be asynchronous: `save` returns once the arrays are copied, orbax writes them in the
background into a temporary folder that it renames when complete (a save cut short is never
read), and the checksums follow at the next save, `wait` or `close`.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import shutil

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from flax import nnx

from genie.config import Config, dict_differences, upgrade_config_dict
from genie.models import STAGES, stage_signature

COMPLETE = "COMPLETE"  # written into a stage's folder when it has trained all its steps
SUMS = "sha256"  # in a checkpoints folder: <step>.json, the sha256 of each file of that step
DAMAGED = "damaged"  # in a checkpoints folder: damaged steps moved aside by a fall-back, kept


def _digests(step_dir: pathlib.Path) -> dict[str, str]:
    return {p.relative_to(step_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(step_dir.rglob("*")) if p.is_file()}


def _common(old: dict, new: dict) -> dict:
    """`old` restricted to the keys that `new` has, recursively."""
    return {k: _common(v, new[k]) if isinstance(v, dict) and isinstance(new[k], dict) else v
            for k, v in old.items() if k in new}


def _fill(old: dict, defaults: dict) -> dict:
    """`old` with the fields it lacks taken from `defaults`, recursively: a field added to the
    config after a checkpoint was made had, in effect, its default value then."""
    filled = dict(old)
    for k, v in defaults.items():
        if k not in filled:
            filled[k] = v
        elif isinstance(v, dict) and isinstance(filled[k], dict):
            filled[k] = _fill(filled[k], v)
    return filled


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used here; the message says why and what to do."""


class Checkpoints:
    def __init__(self, directory: str | pathlib.Path, keep: int, signature: dict, defaults: dict | None = None,
                 async_save: bool = False):
        """`signature`: the config fields (JSON) that a checkpoint must match to be restored;
        `defaults`: their default values, which a checkpoint made before a field existed had;
        `async_save`: `save` returns before the files are written."""
        self.directory = pathlib.Path(directory).absolute()
        self.signature, self.defaults, self.async_save = signature, defaults or {}, async_save
        self.pending = None  # the step of a save that may still be writing
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=async_save),
        )

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, model_state, optimizer_state, loader_state: dict, extra: dict | None = None) -> None:
        self.wait()
        if self.async_save:
            # Copies of their own: the trainer donates the arrays it holds to its next step.
            model_state, optimizer_state = jax.tree.map(jnp.copy, (model_state, optimizer_state))
        meta = {"step": step, "signature": self.signature, **(extra or {})}
        self.manager.save(step, args=ocp.args.Composite(
            model=ocp.args.StandardSave(model_state), optimizer=ocp.args.StandardSave(optimizer_state),
            loader=ocp.args.JsonSave(loader_state), meta=ocp.args.JsonSave(meta)), force=True)
        self.pending = step
        if not self.async_save:
            self.wait()

    def wait(self) -> None:
        """Waits for the last save to be written, then writes its checksums."""
        self.manager.wait_until_finished()
        step, self.pending = self.pending, None
        if step is None or jax.process_index() != 0:  # every process's arrays are written by now
            return
        sums = self.directory / SUMS
        sums.mkdir(exist_ok=True)
        partial = sums / f"{step}.json.partial"
        partial.write_text(json.dumps(_digests(self.directory / str(step))))
        partial.replace(sums / f"{step}.json")
        kept = {str(s) for s in self.manager.all_steps()}
        for old in sums.glob("*.json"):
            if old.stem not in kept:
                old.unlink()

    def damage(self, step: int) -> list[str]:
        """What is wrong with the files of `step`: missing, changed or added since it was saved
        (nothing for a checkpoint saved without checksums, by an earlier version or stopped
        between its save and its checksums)."""
        sums = self.directory / SUMS / f"{step}.json"
        if not sums.is_file():
            return []
        expected, actual = json.loads(sums.read_text()), _digests(self.directory / str(step))
        return ([f"{name} is missing" for name in expected if name not in actual]
                + [f"{name} has changed" for name in expected if name in actual and actual[name] != expected[name]]
                + [f"{name} was added" for name in actual if name not in expected])

    def usable_step(self, fall_back: bool = False) -> int | None:
        """The latest step; with `fall_back`, the latest intact one, the damaged steps after it
        moved aside into damaged/ (kept, never deleted). None where there is no checkpoint."""
        for step in sorted(self.manager.all_steps(), reverse=True):
            if not fall_back or not self.damage(step):
                return step
            aside = self.directory / DAMAGED / str(step)
            while aside.exists():  # the same step damaged before
                aside = aside.with_name(aside.name + "+")
            aside.parent.mkdir(exist_ok=True)
            shutil.move(self.directory / str(step), aside)
            self.manager.reload()
        return None

    def _verify(self, step: int) -> None:
        problems = self.damage(step)
        if not problems:
            return
        intact = [s for s in sorted(self.manager.all_steps(), reverse=True) if s < step and not self.damage(s)]
        remedy = (f"step {intact[0]} is intact: python scripts/train.py --fall_back (with the run's options) resumes "
                  f"from it, moving the damaged steps to {self.directory / DAMAGED}" if intact else
                  "no earlier checkpoint is intact: train this stage again in another --workdir")
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise CheckpointError(f"the checkpoint at {self.directory} (step {step}) is damaged: "
                              f"{'; '.join(problems[:3])}{more}. {remedy}")

    def check(self, step: int) -> dict:
        """The metadata of `step`, after checking its files and that it was made with this config."""
        self._verify(step)
        meta = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        # Fields that no longer matter (absent from the signature now) are not differences.
        old = _common(_fill(upgrade_config_dict(meta["signature"]), self.defaults), self.signature)
        diffs = dict_differences(old, self.signature, "in the checkpoint", "now")
        if diffs:
            raise CheckpointError(f"the checkpoint at {self.directory} (step {step}) was made with another config: "
                                  f"{'; '.join(diffs)}. Use the config it was made with, or another --workdir")
        return meta

    def restore(self, step: int, model_target, optimizer_target=None):
        """Restores (model state, optimizer state or None, loader state) of `step` into the
        structure and shardings of the targets."""
        self.check(step)
        abstract = lambda tree: jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)
        items = {"model": ocp.args.StandardRestore(abstract(model_target)), "loader": ocp.args.JsonRestore()}
        if optimizer_target is not None:
            items["optimizer"] = ocp.args.StandardRestore(abstract(optimizer_target))
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(**items))
        except ValueError as e:
            if optimizer_target is not None or "MISSING" not in str(e):
                raise CheckpointError(f"the checkpoint at {self.directory} (step {step}) does not fit this model: "
                                      f"{str(e)[:300]}... Train this stage again in another --workdir") from None
            # A model that has dropped parts since (a pixel-code tokenizer lost its zero-output
            # transformers): the parts it still has are read from the checkpoint.
            return self._restore_part(step, model_target), None, self.manager.restore(
                step, args=ocp.args.Composite(loader=ocp.args.JsonRestore()))["loader"]
        return restored["model"], restored.get("optimizer") if optimizer_target is not None else None, restored["loader"]

    def _restore_part(self, step: int, model_target):
        """`model_target` with each of its variables read from the checkpoint's model of `step`,
        which may hold more."""
        saved = self.manager.restore(step, args=ocp.args.Composite(model=ocp.args.StandardRestore()))["model"]
        flat = dict(nnx.to_flat_state(model_target))
        for path, variable in flat.items():
            node = saved
            for key in path:
                node = node[str(key) if str(key) in node else key]
            value = node["value"] if isinstance(node, dict) else node
            variable.set_value(jax.device_put(value, variable.get_value().sharding))
        return nnx.from_flat_state(flat)

    def close(self) -> None:
        self.wait()
        self.manager.close()


def is_complete(stage_dir: pathlib.Path) -> bool:
    return (stage_dir / COMPLETE).exists()


def stage_checkpoints(stage_name: str, cfg: Config, workdir: pathlib.Path) -> Checkpoints | None:
    """The checkpoints of stage `stage_name` in run `workdir`, held to `cfg`; None where it has none."""
    directory = workdir / stage_name / "checkpoints"
    if not directory.is_dir():
        return None
    return Checkpoints(directory, cfg.train.keep_checkpoints, stage_signature(stage_name, cfg),
                       stage_signature(stage_name, Config()))


def check_run(cfg: Config, workdir: pathlib.Path, fall_back: bool = False) -> None:
    """Raises CheckpointError where a stage of run `workdir` has a checkpoint `cfg` cannot resume:
    made with another config, or damaged. With `fall_back` the damaged steps are moved aside and
    a stage resumes from its latest intact step (a completed one is no longer complete then)."""
    for name in STAGES:
        if (checkpoints := stage_checkpoints(name, cfg, workdir)) is None:
            continue
        try:
            latest, step = checkpoints.latest_step(), checkpoints.usable_step(fall_back)
            if step != latest:
                (workdir / name / COMPLETE).unlink(missing_ok=True)
            if step is not None:
                checkpoints.check(step)
        finally:
            checkpoints.close()


def restore_latest(stage_name: str, module: nnx.Module, cfg: Config, workdir: pathlib.Path) -> int | None:
    """Loads the latest checkpoint of stage `stage_name` into `module`, finished or not;
    returns its step, or None where the stage has no checkpoint."""
    checkpoints = stage_checkpoints(stage_name, cfg, workdir)
    if checkpoints is None:
        return None
    try:
        step = checkpoints.latest_step()
        if step is not None:
            model_state, _, _ = checkpoints.restore(step, nnx.state(module))
            nnx.update(module, model_state)
        return step
    finally:
        checkpoints.close()
