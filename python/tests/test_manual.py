"""The manual's Python chapter (docs/src/python.md): its examples, run as they are written, in order,
in one namespace."""

import os
import re
import sys

from conftest import ROOT


def python_blocks(chapter="python.md"):
    text = (ROOT / "docs" / "src" / chapter).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_chapter_has_an_example_per_path():
    code = "\n".join(python_blocks())
    for call in ("Pack.load", "Pack.from_source", "PackError", ".score(", ".explain(", ".score_many(",
                 ".score_arrow(", "score_frame(", "spark.score(", "as_of_field=", "leadscore.backtest(",
                 "leadscore.fit(", "leadscore.diff(", "leadscore.drift("):
        assert call in code, call


def test_the_chapter_examples_run(capsys):
    os.environ["PYSPARK_PYTHON"] = sys.executable
    namespace = {"__name__": "readme"}
    try:
        for i, block in enumerate(python_blocks()):
            exec(compile(block, f"docs/src/python.md (block {i + 1})", "exec"), namespace)
    finally:
        if "spark" in namespace:
            namespace["spark"].stop()
    assert "score 45 — not an MQL" in capsys.readouterr().out


def test_the_operations_chapter_examples_run(capsys):
    """docs/src/python-operations.md; the `spawn` example runs only as a script's main."""
    namespace = {"__name__": "operations"}
    for i, block in enumerate(python_blocks("python-operations.md")):
        exec(compile(block, f"docs/src/python-operations.md (block {i + 1})", "exec"), namespace)
    out = capsys.readouterr().out
    assert "threads must be a whole number from 1 to" in out
    assert out.splitlines()[-1] == "5000"
