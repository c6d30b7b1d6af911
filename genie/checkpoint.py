"""Checkpoints of a stage with orbax: model, optimizer, step, data-loader position and the config;
restoring a stage's latest one into a model (training and inference alike).

A checkpoint records the config fields it depends on; restoring it under a config that
differs in any of them is refused with the list of differences, instead of failing on array
shapes (or worse, loading weights into a model they were not trained for).
"""

from __future__ import annotations

import pathlib

import jax
import orbax.checkpoint as ocp
from flax import nnx

from genie.config import Config, dict_differences, upgrade_config_dict
from genie.models import STAGES, stage_signature

COMPLETE = "COMPLETE"  # written into a stage's folder when it has trained all its steps


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
    def __init__(self, directory: str | pathlib.Path, keep: int, signature: dict, defaults: dict | None = None):
        """`signature`: the config fields (JSON) that a checkpoint must match to be restored;
        `defaults`: their default values, which a checkpoint made before a field existed had."""
        self.directory = pathlib.Path(directory).absolute()
        self.signature, self.defaults = signature, defaults or {}
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False),
        )

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, model_state, optimizer_state, loader_state: dict, extra: dict | None = None) -> None:
        meta = {"step": step, "signature": self.signature, **(extra or {})}
        self.manager.save(step, args=ocp.args.Composite(
            model=ocp.args.StandardSave(model_state), optimizer=ocp.args.StandardSave(optimizer_state),
            loader=ocp.args.JsonSave(loader_state), meta=ocp.args.JsonSave(meta)), force=True)
        self.manager.wait_until_finished()

    def check(self, step: int) -> dict:
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


def check_run(cfg: Config, workdir: pathlib.Path) -> None:
    """Raises CheckpointError where a stage of run `workdir` has a checkpoint `cfg` cannot resume."""
    for name in STAGES:
        if (checkpoints := stage_checkpoints(name, cfg, workdir)) is not None:
            try:
                if (step := checkpoints.latest_step()) is not None:
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
