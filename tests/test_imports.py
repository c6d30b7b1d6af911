"""The layers of the package point down: data, models and samplers know nothing of training,
evaluation or play, and loading a trained world for inference does not import training."""

import ast
import pathlib

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "genie"


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(module: str) -> set[str]:
    """The genie modules `module` imports anywhere in its file, in-function imports included."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in MODULES}
    return found


def _reachable(module: str) -> set[str]:
    """Every genie module `module` imports, directly or through others (with their packages)."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parents = [".".join(name.split(".")[:i]) for i in range(2, name.count(".") + 1)]
        todo += [*_imports(name), *(p for p in parents if p in MODULES)]
    return seen - {module}


LOW = [m for m in MODULES if m.startswith(("genie.data", "genie.models", "genie.nn", "genie.quantizers",
                                           "genie.sample"))]
INFERENCE = ["genie.runs", "genie.bundle", *(m for m in MODULES if m.startswith("genie.play"))]


def test_the_walk_sees_in_function_imports():
    assert "genie.eval.report" in _imports("genie.eval.evaluate")  # imported inside evaluate_run
    assert "genie.train.trainer" in _reachable("genie.pipeline")


@pytest.mark.parametrize("module", sorted(LOW))
def test_data_models_and_samplers_do_not_import_upwards(module):
    upward = {m for m in _imports(module) if m.startswith(("genie.train", "genie.eval", "genie.play",
                                                           "genie.runs", "genie.pipeline"))}
    assert not upward, f"{module} imports {sorted(upward)}"


@pytest.mark.parametrize("module", INFERENCE)
def test_inference_does_not_import_training(module):
    training = {m for m in _reachable(module) if m.startswith(("genie.train", "genie.pipeline"))}
    assert not training, f"{module} reaches {sorted(training)}"
