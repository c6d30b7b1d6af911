"""What the scripts share: a config from the command line, and the errors a user can fix shown
as one line and an exit status instead of a traceback."""

from __future__ import annotations

import sys
from typing import Callable

from genie.config import Config, ConfigError, apply_overrides, load_config


def config_from_command_line(path: str, overrides: list[str]) -> Config:
    """load_config + apply_overrides: a bad file or field exits with its message."""
    try:
        return apply_overrides(load_config(path), overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def exit_status(body: Callable[[], object], also: tuple[type[Exception], ...] = ()) -> int:
    """Runs `body`: 0, or 2 where it raised a config, data, checkpoint or missing-file error (or
    one of `also`), which is printed as `error: ...`."""
    from genie.checkpoint import CheckpointError  # here: importing it starts orbax
    from genie.data.shards import DataError

    try:
        body()
    except (ConfigError, DataError, CheckpointError, FileNotFoundError, *also) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
