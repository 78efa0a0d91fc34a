"""`leadscore.backtest`, `fit`, `diff` and `drift` (issue 26): the reports equal the
command's `--json` on the same leads, given as dicts, Polars and pandas frames and pyarrow
tables; and scoring each row as of its own time (`as_of_field`), as `--as-of-field` does."""

import datetime
import json
import warnings

import pytest

import leadscore
from conftest import AS_OF, run_cli

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

PACK = "rules/b2b-saas"


def generated(path, *args):
    """`leadscore gen` leads with outcomes, `company.size` as text (one type per column, as
    a warehouse export has it), written to `path` for the command and returned as dicts."""
    run = run_cli("gen", *args)
    assert run.returncode == 0, run.stderr.decode()
    leads = [json.loads(line) for line in run.stdout.decode().splitlines()]
    for lead in leads:
        lead["company"]["size"] = str(lead["company"]["size"])
    path.write_text("".join(json.dumps(lead) + "\n" for lead in leads))
    return leads


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    path = tmp_path_factory.mktemp("outcomes") / "leads.jsonl"
    return path, generated(path, "--leads", "3000", "--seed", "3", "--outcomes")


def cli_json(*args):
    run = run_cli(*args, "--json")
    assert run.returncode in (0, 1), run.stderr.decode()
    return json.loads(run.stdout)


def frames(leads):
    """The same leads as each kind of input the functions take."""
    return {
        "dicts": leads,
        "generator": (lead for lead in leads),
        "polars": pl.DataFrame(leads, infer_schema_length=None),
        "pandas": pd.DataFrame(leads),
        "pyarrow": pa.Table.from_pylist(leads),
    }


def test_backtest_equals_the_command(labelled):
    path, leads = labelled
    want = cli_json("backtest", "--pack", PACK, "--outcome", "converted", "--as-of-field", "judged_at",
                    "--by", "source", str(path))
    for kind, data in frames(leads).items():
        got = leadscore.backtest(PACK, data, "converted", as_of_field="judged_at", by="source")
        assert got == want, kind
    assert want["auc"] > 0.6 and want["leads"] == 3000


def test_backtest_options_and_html(labelled, tmp_path):
    path, leads = labelled
    want = cli_json("backtest", "--pack", PACK, "--outcome", "converted", "--as-of", AS_OF, "--bands", "4",
                    "--min-precision", "0.5", "--positive", "true", "--negative", "false", str(path))
    html = tmp_path / "report.html"
    got = leadscore.backtest(leadscore.Pack.load(PACK), leads, "converted", as_of=AS_OF, bands=4,
                             min_precision=0.5, positive=["true"], negative=["false"], html=html)
    assert got == want
    assert len(got["bands"]) == 4
    assert html.read_text().startswith("<!DOCTYPE html>")
    table = leadscore.frame(got["bands"])
    assert isinstance(table, pd.DataFrame) and len(table) == 4


def test_capacity_needs_each_leads_time(labelled):
    _, leads = labelled
    with pytest.raises(TypeError, match="capacity .* needs as_of_field"):
        leadscore.backtest(PACK, leads, "converted", as_of=AS_OF, capacity=40)
    with pytest.raises(ValueError, match="capacity"):
        leadscore.backtest(PACK, leads, "converted", as_of_field="judged_at", capacity=-1)
    with pytest.raises(TypeError, match="not both"):
        leadscore.backtest(PACK, leads, "converted", as_of=AS_OF, as_of_field="judged_at")


def test_unreadable_leads_are_left_out_with_a_warning(labelled):
    _, leads = labelled
    bad = leads[:500] + [{"id": "bad", "converted": True, "judged_at": "yesterday"}]
    with pytest.warns(UserWarning, match=r"lead 501 was left out: `judged_at` is \"yesterday\""):
        report = leadscore.backtest(PACK, bad, "converted", as_of_field="judged_at")
    assert (report["leads"], report["failed"]) == (501, 1)


def test_no_labelled_lead_is_an_error(labelled):
    _, leads = labelled
    with pytest.raises(ValueError, match="convertd"):
        leadscore.backtest(PACK, leads, "convertd", as_of_field="judged_at")


def test_fit_equals_the_command(labelled, tmp_path):
    path, leads = labelled
    out = tmp_path / "fitted"
    want = cli_json("fit", "--pack", PACK, "--outcome", "converted", "--as-of-field", "judged_at", "--suggest", "3",
                    "-o", str(out), str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = leadscore.fit(PACK, pl.DataFrame(leads, infer_schema_length=None), "converted", as_of_field="judged_at", suggest=3,
                            out_dir=str(out))
    assert got["report"] == want
    assert got["text"] == (out / "fit-report.txt").read_text()
    for name, text in got["files"].items():
        assert (out / name).read_text() == text, name
    # The fitted pack scores as the command scores with the folder it wrote.
    fitted = got["pack"]
    assert fitted.name == "b2b-saas"
    sample = leads[:200]
    run = run_cli("score", "--pack", str(out), "--as-of", AS_OF, input="".join(json.dumps(x) + "\n"
                                                                                 for x in sample).encode())
    expected = [json.loads(line) for line in run.stdout.decode().splitlines()]
    scored = fitted.score_many(sample, AS_OF)
    assert [r["score"] for r in scored] == [r["score"] for r in expected]
    assert [r["mql"] for r in scored] == [r["mql"] for r in expected]


def test_fit_options_are_checked(labelled):
    _, leads = labelled
    with pytest.raises(TypeError, match="split_at needs as_of_field"):
        leadscore.fit(PACK, leads, "converted", as_of=AS_OF, split_at="2026-01-01T00:00:00Z")
    with pytest.raises(ValueError, match="holdout"):
        leadscore.fit(PACK, leads, "converted", as_of=AS_OF, holdout=1.5)


def test_fit_names_leaky_columns_and_leaves_them_out(tmp_path):
    path = tmp_path / "leaky.jsonl"
    leads = generated(path, "--leads", "4000", "--seed", "1", "--outcomes", "--leaky")
    want = cli_json("fit", "--pack", PACK, "--outcome", "converted", "--as-of-field", "judged_at", "--suggest", "5",
                    "-o", str(tmp_path / "fitted"), str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = leadscore.fit(PACK, leads, "converted", as_of_field="judged_at", suggest=5,
                            out_dir=str(tmp_path / "fitted"))
    assert got["report"] == want
    text = json.dumps(got["report"])
    assert "Tags" in text and "Lead Quality" in text
    assert "Tags" not in got["files"].get("suggested.rules", "")


def test_diff_equals_the_command(labelled, tmp_path):
    path, leads = labelled
    out = tmp_path / "fitted"
    run = run_cli("fit", "--pack", PACK, "--outcome", "converted", "--as-of-field", "judged_at", "-o", str(out),
                  str(path))
    assert run.returncode == 0, run.stderr.decode()
    want = cli_json("diff", "--pack", PACK, "--pack", str(out), "--outcome", "converted", "--as-of-field",
                    "judged_at", str(path))
    for kind in ("dicts", "polars"):
        got = leadscore.diff(PACK, str(out), frames(leads)[kind], outcome="converted", as_of_field="judged_at")
        assert got == want, kind


def test_drift_equals_the_command(tmp_path):
    baseline, current = tmp_path / "baseline.jsonl", tmp_path / "current.jsonl"
    old = generated(baseline, "--leads", "2000", "--seed", "1")
    new = generated(current, "--leads", "2000", "--seed", "2", "--events-per-lead", "8")
    want = cli_json("drift", "--pack", PACK, "--as-of", AS_OF, str(baseline), str(current))
    got = leadscore.drift(PACK, old, pl.DataFrame(new, infer_schema_length=None), as_of=AS_OF, names=(str(baseline), str(current)))
    assert got == want
    assert got["psi"] > 0.25, "fewer events: a major shift"
    same = leadscore.drift(PACK, old, old, as_of=AS_OF)
    assert same["psi"] == 0


# Each row as of its own time.

def test_score_arrow_as_of_field_scores_each_row_at_its_time(labelled):
    _, leads = labelled
    pack = leadscore.Pack.load(PACK)
    sample = leads[:300]
    want = [pack.score(lead, lead["judged_at"]) for lead in sample]
    table = pa.Table.from_pylist(sample)
    got = pack.score_arrow(table, as_of_field="judged_at")
    assert got.column("score").to_pylist() == [float(r["score"]) for r in want]
    assert got.column("mql").to_pylist() == [r["mql"] for r in want]
    # Different from one time for all: the times matter.
    assert got.column("score").to_pylist() != pack.score_arrow(table, AS_OF).column("score").to_pylist()
    # Timestamps with a timezone read as the same instants; the JSON path (a pack with hooks) too.
    times = pa.array([datetime.datetime.fromisoformat(x["judged_at"].replace("Z", "+00:00")) for x in sample],
                     pa.timestamp("us", tz="UTC"))
    stamped = table.set_column(table.schema.get_field_index("judged_at"), "judged_at", times)
    assert pack.score_arrow(stamped, as_of_field="judged_at").column("score") == got.column("score")
    frame = leadscore.score_frame(pl.DataFrame(sample, infer_schema_length=None), pack, as_of_field="judged_at")
    assert frame["score"].to_list() == got.column("score").to_pylist()
    frame = leadscore.score_frame(pd.DataFrame(sample), pack, as_of_field="judged_at")
    assert frame["score"].tolist() == got.column("score").to_pylist()


def test_as_of_field_on_the_json_path():
    pack = leadscore.Pack.load("rules/agency", plugins=["plugins"])
    leads = [{"id": 1, "title": "VP Marketing", "at": "2026-02-28T12:00:00Z",
              "events": [{"type": "page_view", "at": "2026-02-28T00:00:00Z", "path": "/pricing"}]},
             {"id": 2, "title": "VP Marketing", "at": "2026-01-01T00:00:00Z",
              "events": [{"type": "page_view", "at": "2026-02-28T00:00:00Z", "path": "/pricing"}]}]
    table = pa.Table.from_pylist(leads)
    assert pack.arrow_refusal(table) is not None
    got = pack.score_arrow(table, as_of_field="at").column("score").to_pylist()
    assert got == [float(pack.score(x, x["at"])["score"]) for x in leads]


def test_as_of_field_errors():
    pack = leadscore.Pack.load(PACK)
    table = pa.table({"id": [1, 2, 3], "at": ["2026-02-01T00:00:00Z", None, "soon"]})
    errors = pack.score_arrow(table, as_of_field="at").column("error").to_pylist()
    assert errors == [None, "the lead has no `at` to judge it as of", '`at` is "soon", not an RFC 3339 time']
    with pytest.raises(ValueError, match="no column `when`"):
        pack.score_arrow(table, as_of_field="when")
    with pytest.raises(ValueError, match="without a timezone"):
        pack.score_arrow(pa.table({"at": pa.array([0], pa.timestamp("s"))}), as_of_field="at")
    with pytest.raises(ValueError, match="must hold RFC 3339 strings"):
        pack.score_arrow(pa.table({"at": [1]}), as_of_field="at")
    with pytest.raises(TypeError, match="not both"):
        pack.score_arrow(table, AS_OF, as_of_field="at")
    with pytest.raises(TypeError, match="give as_of"):
        pack.score_arrow(table)
