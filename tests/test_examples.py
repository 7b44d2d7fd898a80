"""The examples gallery runs: the README's quickstart is examples/quickstart.py, and every
script of examples/ runs with ``--small`` in the default tier (all of them together must
stay under 90 s on CI's 2-core machine), in a fresh folder, as a user runs it (standard
dtype promotion)."""

import pathlib
import re
import runpy
import sys

import jax
import pytest

from tests.conftest import SHARED_DATA

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
NEEDS_DATA = {"geo_hangseng.py"}


def test_readme_quickstart_is_the_example_file():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert block == (ROOT / "examples" / "quickstart.py").read_text()


def test_every_example_is_in_the_gallery_and_takes_small():
    gallery = (ROOT / "docs" / "gallery.md").read_text()
    for name in EXAMPLES:
        assert f'--8<-- "examples/{name}"' in gallery, f"{name} is not in docs/gallery.md"
        if name != "quickstart.py":  # the README's block, which shows no argument parsing
            assert '"--small"' in (ROOT / "examples" / name).read_text(), f"{name} has no --small flag"


@pytest.mark.parametrize("name", [n for n in EXAMPLES if n != "quickstart.py"])
def test_example_runs_small(name, tmp_path, monkeypatch, capsys):
    if name in NEEDS_DATA and not pathlib.Path(SHARED_DATA).is_dir():
        pytest.skip("../shared/data is absent")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [name, "--small"])
    with jax.numpy_dtype_promotion("standard"):
        runpy.run_path(str(ROOT / "examples" / name), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{name} printed nothing"


def test_quickstart_runs_small(capsys):
    """The quickstart with a smaller trained model (chi_max 8, 100 steps instead of 32 and
    1,500); it has no --small flag: its text is the README's block."""
    src = (ROOT / "examples" / "quickstart.py").read_text()
    small = src.replace("steps=1500", "steps=100").replace("num_bits=16, chi_max=32", "num_bits=16, chi_max=8")
    assert small.count("steps=100,") == 1 and small.count("chi_max=8)") == 2, "the quickstart changed: update this test"
    with jax.numpy_dtype_promotion("standard"), jax.enable_x64(False):
        exec(compile(small, "examples/quickstart.py", "exec"), {"__name__": "__main__"})
    assert "train NLL" in capsys.readouterr().out


@pytest.mark.slow
def test_quickstart_runs(capsys):
    with jax.numpy_dtype_promotion("standard"), jax.enable_x64(False):
        runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    nll = float(re.search(r"train NLL ([0-9.]+)", out).group(1))
    assert abs(nll - 3.4012) < 0.05
