"""Shared fixtures: the repository, the real `leadscore` binary, and its results to compare with.

The binary is `target/debug/leadscore`, built with plain `cargo build` when it is missing
(or `LEADSCORE_BIN`). Every comparison here runs it on the same leads as the Python path.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-03-01T00:00:00Z"
PACKS = ["b2b-saas", "agency", "fintech"]


def binary() -> Path:
    given = os.environ.get("LEADSCORE_BIN")
    if given:
        return Path(given)
    path = ROOT / "target" / "debug" / "leadscore"
    if not path.exists():
        subprocess.run(["cargo", "build", "--quiet"], cwd=ROOT, check=True)
    return path


@pytest.fixture(scope="session")
def cli() -> Path:
    return binary()


def run_cli(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    """The binary, run from the repository root (so `plugins/` is its plugin path)."""
    return subprocess.run([str(binary()), *args], cwd=ROOT, input=input, capture_output=True)


def cli_score(pack: str, files, as_of: str = AS_OF, *extra: str):
    """`leadscore score` on files: (results by id, errors as printed on stderr)."""
    run = run_cli("score", "--pack", str(pack), "--as-of", as_of, *extra, *map(str, files))
    assert run.returncode in (0, 1), run.stderr.decode()
    results = [json.loads(line) for line in run.stdout.decode().splitlines() if line.strip()]
    errors = [json.loads(line) for line in run.stderr.decode().splitlines() if line.startswith("{")]
    return results, errors


def sample_leads(pack: str):
    """The pack's sample leads: (file, lead)."""
    return [(f, json.loads(f.read_text())) for f in sorted((ROOT / "rules" / pack / "leads").glob("*.json"))]


def as_row(result: dict) -> dict:
    """A `leadscore score` line as the row `score_arrow` gives for it (its result schema)."""
    return {
        "id": result["id"],
        "score": float(result["score"]),
        "mql": result["mql"],
        "disqualified": result["disqualified"],
        "route": result["route"],
        "tags": result["tags"],
        "dimensions": [(k, float(v)) for k, v in result["dimensions"].items()],
        "fired": [
            {"rule": f["rule"], "points": float(f["points"]), "dimension": f["dimension"], "location": f["location"]}
            for f in result["fired"]
        ],
        "error": None,
    }


def assert_rows_equal(rows, expected):
    """Row by row, field by field, naming the first lead that differs."""
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected):
        if got != want:
            diff = {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
            raise AssertionError(f"lead {want.get('id')!r} differs (got, want): {diff}")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _in_root(monkeypatch):
    """Tests run from the repository root, where `plugins/` is the default plugin path."""
    monkeypatch.chdir(ROOT)
