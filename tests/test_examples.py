"""The README's quickstart is examples/quickstart.py, and it runs."""

import pathlib
import re
import runpy

import jax
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_readme_quickstart_is_the_example_file():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert block == (ROOT / "examples" / "quickstart.py").read_text()


@pytest.mark.slow
def test_quickstart_runs(capsys):
    with jax.numpy_dtype_promotion("standard"), jax.enable_x64(False):
        runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    nll = float(re.search(r"train NLL ([0-9.]+)", out).group(1))
    assert abs(nll - 3.4012) < 0.05
