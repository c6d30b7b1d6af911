"""Evaluates a trained run on held-out levels: metrics.json, report.md, plots, GIFs, action_map.json.

    python scripts/evaluate.py --workdir runs/cpu [--split test] [--config.eval.clips=512 ...]

Every stage with a checkpoint is evaluated (the latest one); what is missing is named in the
report. The run's own config.json is used; --config.<field>=<value> overrides it.
"""

import argparse
import dataclasses
import pathlib
import sys

from genie import hugepages
from genie.cli import exit_status
from genie.config import apply_overrides


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="runs/cpu")
    parser.add_argument("--split", default=None, choices=("train", "val", "test"), help="default: the config's")
    args, rest = parser.parse_known_args(argv)
    from genie.eval.evaluate import evaluate_run
    from genie.runs import load_config_of, load_run

    def evaluate():
        cfg = apply_overrides(load_config_of(pathlib.Path(args.workdir)), rest)
        if args.split:
            cfg = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, split=args.split))
        evaluate_run(load_run(args.workdir, cfg))

    return exit_status(evaluate, also=(ValueError,))


if __name__ == "__main__":
    hugepages.restart_with_huge_pages()
    sys.exit(main())
