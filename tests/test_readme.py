import re

from tests.conftest import ROOT


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    quick_start = re.search(r"## Quick start\n\n```bash\n(.*?)```", readme, re.S).group(1).splitlines()
    assert len(quick_start) == 2
    assert quick_start[1] in (ROOT / ".ci" / "run").read_text().splitlines()
