"""The whole recipe: data, then tokenizer, LAM and dynamics, each skipped once complete."""

from __future__ import annotations

import json
import pathlib

import jax

from genie.checkpoint import check_run, is_complete
from genie.config import Config, to_dict
from genie.data.dataset import prepare_dataset
from genie.models import STAGES, build_models
from genie.train.stages import make_stage
from genie.train.trainer import restore_trained, train_stage

ALL = ("data", *STAGES, "eval")


def run(cfg: Config, workdir: str | pathlib.Path, stages=ALL, log=print, fall_back: bool = False) -> None:
    """Runs `stages` of the recipe into `workdir`; `fall_back` resumes a stage whose latest
    checkpoint is damaged from its latest intact one (genie.checkpoint.check_run)."""
    workdir = pathlib.Path(workdir)
    data_dir = cfg.data_dir
    if jax.process_index() == 0:
        check_run(cfg, workdir, fall_back)  # before anything is written: a refused config leaves the run as it was
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.json").write_text(json.dumps(to_dict(cfg), indent=1))
        if "data" in stages:
            prepare_dataset(cfg, data_dir, log=log)
    if jax.process_count() > 1:  # the others wait for the data of process 0
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("data ready")
    for name in STAGES:
        if name not in stages:
            continue
        if is_complete(workdir / name):
            log(f"{name}: complete in {workdir / name}; skipping")
            continue
        models = build_models(cfg, cfg.seed)
        if name == "dynamics":
            for earlier in ("tokenizer", "lam"):
                step = restore_trained(earlier, models[earlier], cfg, workdir)
                log(f"dynamics: restored the {earlier} from step {step}")
        train_stage(make_stage(name, cfg, models), cfg, workdir, data_dir)
    if "eval" in stages and jax.process_index() == 0:
        _evaluate(cfg, workdir, log)


def _evaluate(cfg: Config, workdir: pathlib.Path, log) -> None:
    """Evaluates the run unless eval/metrics.json already covers its latest checkpoints at the
    config's evaluation and sampling settings."""
    from genie.eval.evaluate import evaluate_run, settings
    from genie.runs import load_run

    run = load_run(workdir, cfg)
    previous = workdir / "eval" / "metrics.json"
    if previous.is_file():
        meta = json.loads(previous.read_text()).get("meta", {})
        current = {"checkpoint_steps": run.steps, **settings(cfg)}
        if all(meta.get(k) == v for k, v in current.items()):
            log(f"eval: up to date in {previous.parent}; skipping")
            return
    evaluate_run(run, log)
