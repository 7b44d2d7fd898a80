"""The package's shape: small modules, short functions, no private jax imports.

Files of a few hundred lines and functions that fit on a screen keep each piece reviewable;
a new 150-line function or 800-line module fails here instead of growing unnoticed. Lengths
count code lines, not docstrings.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "jqgen"
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 100
#: Deliberate exceptions, with the reason (keep this list short).
EXCEPTIONS: dict[str, str] = {}


def _sources():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _code_lines(node: ast.AST) -> int:
    lines = node.end_lineno - node.lineno + 1
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        lines -= body[0].end_lineno - body[0].lineno + 1
    return lines


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path):
    src = path.read_text()
    rel = str(path.relative_to(PACKAGE))
    assert src.count("\n") <= MAX_FILE_LINES or rel in EXCEPTIONS, f"{rel}: {src.count(chr(10))} lines"
    long = [(node.name, _code_lines(node)) for node in ast.walk(ast.parse(src))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) > MAX_FUNCTION_LINES]
    long = [(name, n) for name, n in long if f"{rel}::{name}" not in EXCEPTIONS]
    assert not long, f"{rel}: functions over {MAX_FUNCTION_LINES} code lines: {long}"
    assert "jax._src" not in src, f"{rel} imports a private jax module"
