"""The README's "From Python" examples, run as they are written, in order, in one namespace."""

import os
import re
import sys

from conftest import ROOT


def python_blocks():
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_has_an_example_per_path():
    code = "\n".join(python_blocks())
    for call in ("Pack.load", "Pack.from_source", "PackError", ".score(", ".explain(", ".score_many(",
                 ".score_arrow(", "score_frame(", "spark.score("):
        assert call in code, call


def test_the_readme_examples_run(capsys):
    os.environ["PYSPARK_PYTHON"] = sys.executable
    namespace = {"__name__": "readme"}
    try:
        for i, block in enumerate(python_blocks()):
            exec(compile(block, f"README.md (From Python, block {i + 1})", "exec"), namespace)
    finally:
        if "spark" in namespace:
            namespace["spark"].stop()
    assert "score 45 — not an MQL" in capsys.readouterr().out
