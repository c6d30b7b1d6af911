"""A trained run on disk: its config and the models of whichever stages have checkpoints."""

from __future__ import annotations

import dataclasses
import json
import pathlib

from genie.bundle import is_bundle, load_bundle
from genie.checkpoint import is_complete, restore_latest
from genie.config import Config, ConfigError, config_from_dict
from genie.models import STAGES, Cotrained, build_models
from genie.nn.bitlinear import freeze_ternary


@dataclasses.dataclass
class TrainedRun:
    workdir: pathlib.Path
    cfg: Config
    models: dict  # stage name -> module (the untrained module where the stage has no checkpoint)
    steps: dict  # stage name -> step of the restored checkpoint, for the stages that have one
    complete: dict  # stage name -> whether the stage finished its steps

    @property
    def missing(self) -> list[str]:
        return [name for name in STAGES if name not in self.steps]

    def has(self, *names: str) -> bool:
        return all(name in self.steps for name in names)


def load_config_of(workdir: pathlib.Path) -> Config:
    path = workdir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{workdir} is not a training run (it has no config.json); train one with: "
                                f"python scripts/train.py --workdir {workdir}")
    try:
        return config_from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, ConfigError) as e:
        raise ConfigError(f"{path} is not a config of this version of genie: {e}") from None


def load_run(workdir: str | pathlib.Path, cfg: Config | None = None) -> TrainedRun:
    """Restores the latest checkpoint of each stage of `workdir`, or the weights of a shipped
    world (genie/bundle.py). A co-trained LAM comes from the dynamics checkpoint, where it was
    last updated. Ternary layers come frozen (their int8 weights and scales: genie/nn/bitlinear.py),
    the form in which they are played, evaluated and shipped."""
    workdir = pathlib.Path(workdir)
    cfg = cfg or load_config_of(workdir)
    models = build_models(cfg, cfg.seed)
    if is_bundle(workdir):
        stages = load_bundle(workdir, {name: freeze_ternary(m) for name, m in models.items()})["stages"]
        return TrainedRun(workdir, cfg, models, {name: s["step"] for name, s in stages.items()},
                          {name: True for name in stages})
    steps, complete = {}, {}
    for name in STAGES:
        module = models[name]
        if name == "dynamics" and cfg.train.cotrain_lam:
            module = Cotrained(models["dynamics"], models["lam"])
        step = restore_latest(name, module, cfg, workdir)
        if step is not None:
            steps[name], complete[name] = step, is_complete(workdir / name)
    for model in models.values():
        freeze_ternary(model)
    return TrainedRun(workdir, cfg, models, steps, complete)
