"""Turns a folder of videos (mp4, gif, webm, ... or folders of png/jpg frames) into a clip dataset.

    python scripts/import_videos.py my_videos/ --out data/my_videos [--config configs/cpu.py]

Frames are resized to the config's resolution and cut into clips of its clip length; the clips
carry no true actions. Train on them with --config.data.dir=data/my_videos.
"""

import argparse
import sys

from genie.cli import config_from_command_line, exit_status
from genie.data.dataset import write_preview
from genie.data.sources.videos import import_videos


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="folder of videos or image sequences")
    parser.add_argument("--out", required=True, help="dataset folder to write")
    parser.add_argument("--config", default="configs/cpu.py", help="config giving resolution and clip length")
    parser.add_argument("--frame_stride", type=int, default=1, help="keep every n-th frame")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already in --out")
    args, rest = parser.parse_known_args(argv)
    cfg = config_from_command_line(args.config, rest)
    def run():
        import_videos(args.folder, args.out, cfg, frame_stride=args.frame_stride, overwrite=args.overwrite)
        write_preview(args.out)

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
