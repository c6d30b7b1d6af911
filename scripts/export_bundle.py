"""Packs a trained run as a world to ship (genie/bundle.py), then evaluates the packed weights.

    python scripts/export_bundle.py --workdir runs/cpu [--out genie/worlds/platformer] [--dtype float16] [--overwrite]

The evaluation (eval/ in the bundle, as scripts/evaluate.py writes it) measures the weights as
stored, so its figures are the shipped world's own. --config.<field>=<value> overrides the
evaluation's settings, e.g. --config.data.dir=data/cpu for the held-out clips.
"""

import argparse
import os
import pathlib
import sys

from genie import hugepages
from genie.cli import exit_status
from genie.config import apply_overrides


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="runs/cpu", help="a run whose three stages have finished")
    parser.add_argument("--out", default=None, help="default: the world that ships with genie")
    parser.add_argument("--dtype", default="float16", choices=("float16", "float32"))
    parser.add_argument("--no_eval", action="store_true", help="skip the evaluation")
    parser.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    args, rest = parser.parse_known_args(argv)
    from genie.bundle import SHIPPED, export_bundle
    from genie.eval.evaluate import evaluate_run
    from genie.runs import load_config_of, load_run

    def export():
        out = pathlib.Path(args.out) if args.out else pathlib.Path(os.path.relpath(SHIPPED))
        export_bundle(load_run(args.workdir), out, args.dtype, args.overwrite)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        print(f"wrote {out} ({size / 2**20:.1f} MiB)")
        if not args.no_eval:
            evaluate_run(load_run(out, apply_overrides(load_config_of(pathlib.Path(out)), rest)))

    return exit_status(export, also=(ValueError, FileExistsError))


if __name__ == "__main__":
    hugepages.restart_with_huge_pages()
    sys.exit(main())
