import pathlib

import pytest

from genie.config import load_config
from genie.data.dataset import prepare_dataset

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_cfg():
    return load_config(ROOT / "configs" / "tiny.py")


@pytest.fixture(scope="session")
def tiny_data(tiny_cfg, tmp_path_factory):
    """A generated tiny dataset, shared read-only by the tests."""
    out = tmp_path_factory.mktemp("data") / "tiny"
    prepare_dataset(tiny_cfg, out, log=lambda *_: None)
    return out
