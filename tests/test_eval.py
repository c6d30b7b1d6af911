"""Evaluating trained tiny runs end to end: a partial run, the report, bad work directories."""

import json
import re
import subprocess
import sys

from genie import pipeline
from genie.config import override
from tests.conftest import ROOT


def check_report(eval_dir) -> str:
    """The report exists and every picture it shows is there; returns its text."""
    report = (eval_dir / "report.md").read_text()
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert pictures, report
    for name in pictures:
        assert (eval_dir / name).stat().st_size > 0, name
    return report


def test_a_run_with_only_a_tokenizer_is_evaluated_for_what_it_has(tiny_cfg, tiny_data, tmp_path):
    cfg = override(tiny_cfg, {"data.dir": str(tiny_data), "train.sample_every": 0})
    pipeline.run(cfg, tmp_path, stages=("tokenizer", "eval"), log=lambda *_: None)
    results = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert set(results) == {"tokenizer", "meta"}
    assert results["meta"]["missing"] == ["lam", "dynamics"]
    assert results["meta"]["clips"] == 16 and results["meta"]["split"] == "test"
    assert 0 < results["tokenizer"]["psnr"] < 100 and -1 <= results["tokenizer"]["ssim"] <= 1
    report = check_report(tmp_path / "eval")
    assert "no checkpoint of lam, dynamics" in report
    assert not (tmp_path / "eval" / "action_map.json").exists()


def test_evaluate_script_refuses_a_folder_that_is_not_a_run(tmp_path):
    result = subprocess.run([sys.executable, "scripts/evaluate.py", "--workdir", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "is not a training run" in result.stderr and "scripts/train.py" in result.stderr
