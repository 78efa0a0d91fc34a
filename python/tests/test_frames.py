"""`leadscore.score_frame` on pandas and Polars frames, against the real binary."""

import csv
import io
import json

import pytest

import leadscore
from conftest import AS_OF, as_row, assert_rows_equal, cli_score, run_cli

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """5,000 generated leads, as JSON Lines (sizes as strings, so each column has one type)."""
    run = run_cli("gen", "--leads", "5000")
    leads = [json.loads(line) for line in run.stdout.decode().splitlines()]
    for lead in leads:
        lead["company"]["size"] = str(lead["company"]["size"])
    path = tmp_path_factory.mktemp("frames") / "leads.jsonl"
    path.write_text("".join(json.dumps(lead) + "\n" for lead in leads))
    expected, errors = cli_score("rules/b2b-saas", [path])
    assert errors == []
    return leads, [as_row(r) for r in expected]


def rows(frame_rows):
    """Frame rows as `score_arrow` rows (pandas gives maps as lists of pairs already)."""
    keep = ["id", "score", "mql", "disqualified", "route", "tags", "dimensions", "fired", "error"]
    out = []
    for row in frame_rows:
        row = {k: row[k] for k in keep}
        for k in ("tags", "dimensions", "fired"):
            row[k] = [tuple(x) if k == "dimensions" and not isinstance(x, dict) else x for x in list(row[k])]
        if isinstance(row["disqualified"], float):  # pandas' missing value in an object column
            row["disqualified"] = None
        out.append(row)
    return out


def test_polars_frame(generated):
    leads, expected = generated
    df = pl.DataFrame(leads)
    assert leadscore.Pack.load("rules/b2b-saas").arrow_refusal(df) is None, "read from its columns"
    out = leadscore.score_frame(df, "rules/b2b-saas", AS_OF)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == df.columns + leadscore.RESULT_COLUMNS
    assert out.select(df.columns).equals(df), "the input's columns are kept as they were"
    got = out.to_dicts()
    for row in got:
        dims = row["dimensions"]  # a map, or (older Polars) a list of key/value structs
        row["dimensions"] = list(dims.items()) if isinstance(dims, dict) else [(e["key"], e["value"]) for e in dims]
    assert_rows_equal(rows(got), expected)


def test_pandas_frame(generated):
    leads, expected = generated
    df = pd.DataFrame(leads)
    pack = leadscore.Pack.load("rules/b2b-saas")
    # The table score_frame makes of it is read from its columns, not row by row as JSON.
    table = pa.Table.from_pandas(df, preserve_index=False)
    assert pack.arrow_refusal(table) is None
    out = leadscore.score_frame(df, pack, AS_OF)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(df.columns) + leadscore.RESULT_COLUMNS
    assert "score" not in df.columns, "the input frame is not changed"
    got = out.to_dict("records")
    for row in got:
        row["error"] = None if not isinstance(row["error"], str) else row["error"]
        for key in ("disqualified", "route"):
            row[key] = row[key] if isinstance(row[key], str) else None
    assert_rows_equal(rows(got), expected)


def test_pandas_csv_frame_with_empty_cells(tmp_path):
    """pandas reads a CSV export with every column a string and empty cells as NaN: missing."""
    path = tmp_path / "leads.csv"
    run = run_cli("gen", "--leads", "3000", "--format", "csv")
    rows = list(csv.reader(io.StringIO(run.stdout.decode())))
    for row in rows[1::5]:
        row[rows[0].index("company.size")] = ""
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "crm.rules").write_text(
        'threshold 10\nrule "Sized": company.size >= 200 => +10\nrule "Unknown size": company.size is missing => +3\n'
        'rule "Visits": TotalVisits > 10 => +5\n')
    expected, _ = cli_score(tmp_path / "crm", [path])
    df = pd.read_csv(path, dtype=str)
    assert df["company.size"].isna().sum() == 600
    out = leadscore.score_frame(df, tmp_path / "crm", AS_OF)
    assert out["score"].tolist() == [float(r["score"]) for r in expected]
    assert out["mql"].tolist() == [r["mql"] for r in expected]


def test_other_objects_are_refused():
    with pytest.raises(TypeError, match="pandas or Polars"):
        leadscore.score_frame([{"id": 1}], "rules/b2b-saas", AS_OF)
    with pytest.raises(TypeError, match="pack must be"):
        leadscore.score_frame(pd.DataFrame({"id": [1]}), 42, AS_OF)
