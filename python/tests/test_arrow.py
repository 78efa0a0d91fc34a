"""`Pack.score_arrow` against the real binary: sample leads, 100,000 generated leads (as
JSON Lines and as CSV), events as JSON text, nested structs, bad rows."""

import csv
import io
import json
import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj
import pytest

import leadscore
from conftest import AS_OF, PACKS, as_row, assert_rows_equal, cli_score, run_cli, sample_leads
from generated import EVENT, GEN_SCHEMA


def load(name):
    return leadscore.Pack.load(f"rules/{name}", plugins=["plugins"])


def generate(path, leads, *args):
    run = run_cli("gen", "--leads", str(leads), *args)
    assert run.returncode == 0
    path.write_bytes(run.stdout)
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """100,000 `leadscore gen` leads as JSON Lines (sizes as strings), and as a pyarrow table."""
    raw = run_cli("gen", "--leads", "100000").stdout.decode()
    path = tmp_path_factory.mktemp("gen") / "leads.jsonl"
    path.write_text(re.sub(r'"size":(\d+)', r'"size":"\1"', raw))
    table = pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=GEN_SCHEMA))
    assert table.num_rows == 100_000
    return path, table


@pytest.mark.parametrize("name", PACKS)
def test_sample_leads_one_table_each(name):
    """Each sample lead as its own one-row table keeps its JSON types exactly."""
    pack = load(name)
    leads = sample_leads(name)
    expected, _ = cli_score(f"rules/{name}", [f for f, _ in leads])
    rows = [pack.score_arrow(pa.Table.from_pylist([lead]), AS_OF).to_pylist()[0] for _, lead in leads]
    assert_rows_equal(rows, [as_row(r) for r in expected])


def test_the_result_schema():
    results = load("b2b-saas").score_arrow(pa.table({"id": ["a"], "title": ["VP"]}), AS_OF)
    fired = pa.struct([("rule", pa.string()), ("points", pa.float64()), ("dimension", pa.string()),
                       ("location", pa.string())])
    assert results.schema.names == ["id", "score", "mql", "disqualified", "route", "tags", "dimensions", "fired",
                                    "error"]
    assert [f.type for f in results.schema] == [
        pa.string(), pa.float64(), pa.bool_(), pa.string(), pa.string(), pa.list_(pa.string()),
        pa.map_(pa.string(), pa.float64()), pa.list_(fired), pa.string()]


def test_100k_generated_leads_equal_the_cli(generated):
    path, table = generated
    pack = load("b2b-saas")
    expected, errors = cli_score("rules/b2b-saas", [path])
    assert errors == []
    results = pack.score_arrow(table, AS_OF)
    assert results.column("error").null_count == table.num_rows
    assert_rows_equal(results.to_pylist(), [as_row(r) for r in expected])
    # A RecordBatch, and a stream of batches, give the same.
    batches = table.to_batches(max_chunksize=7_000)
    start = batches[0].num_rows
    assert pack.score_arrow(batches[1], AS_OF).to_pylist() == results.slice(start, batches[1].num_rows).to_pylist()
    reader = pa.RecordBatchReader.from_batches(table.schema, batches)
    assert pack.score_arrow(reader, AS_OF, threads=1).equals(results)


def test_generated_leads_with_a_plugin_function_equal_the_cli(generated, tmp_path):
    path, table = generated
    few = tmp_path / "few.jsonl"
    few.write_text("".join(path.read_text().splitlines(keepends=True)[:20_000]))
    expected, _ = cli_score("rules/fintech", [few])
    assert load("fintech").arrow_refusal(table) is None, "a plugin function does not stop the column reader"
    results = load("fintech").score_arrow(table.slice(0, 20_000), AS_OF)
    assert_rows_equal(results.to_pylist(), [as_row(r) for r in expected])


def test_generated_leads_with_an_enrichment_hook_equal_the_cli(generated, tmp_path):
    """agency's `seniority` hook sees the whole lead, so every column is read."""
    path, table = generated
    few = tmp_path / "few.jsonl"
    few.write_text("".join(path.read_text().splitlines(keepends=True)[:3_000]))
    expected, _ = cli_score("rules/agency", [few])
    assert "enrichment hooks" in load("agency").arrow_refusal(table)
    results = load("agency").score_arrow(table.slice(0, 3_000), AS_OF)
    assert_rows_equal(results.to_pylist(), [as_row(r) for r in expected])


def test_events_as_aware_timestamps(generated):
    path, table = generated
    small = table.slice(0, 2_000)
    at = pa.timestamp("s", tz="UTC")
    timed = small.cast(pa.schema([f if f.name != "events" else pa.field(
        "events", pa.list_(pa.struct([(e.name, at if e.name == "at" else e.type) for e in EVENT])))
        for f in small.schema]))
    pack = load("b2b-saas")
    assert pack.score_arrow(timed, AS_OF).equals(pack.score_arrow(small, AS_OF))


def test_naive_timestamps_are_an_error(generated):
    _, table = generated
    naive = pj.read_json(pa.BufferReader(b'{"id": 1, "events": [{"type": "page_view", "at": "2026-02-01T00:00:00Z"}]}'))
    assert naive.schema.field("events").type.value_type.field("at").type == pa.timestamp("s")
    with pytest.raises(ValueError, match=r"`events\[\].at` holds timestamps without a timezone"):
        load("b2b-saas").score_arrow(naive, AS_OF)


def test_csv_typed_columns_equal_the_cli(tmp_path):
    """Every cell a string, empty cells missing: the CLI reads the same CSV file."""
    path = generate(tmp_path / "leads.csv", 100_000, "--format", "csv")
    pack = leadscore.Pack.from_source("crm", """
        threshold 30
        rule "Sized": company.size >= 200 => +10
        rule "Visits": TotalVisits > 10 => +15
        rule "Pricing": pricing_visits >= 2 => +10, tag "pricing"
        rule "Recent": last_activity >= "2026-02-25" => +5
        rule "Student": email ends_with ".edu" => disqualify "student"
        rule "No source": `Lead Source` is missing => -5
        route "east" when region in ["NY", "NJ"]
        route "rest"
    """)
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "crm.rules").write_text("\n".join(s[1] for s in pack.sources))
    rows = list(csv.reader(io.StringIO(path.read_text())))
    # Some empty cells, as CRM exports have them: `Lead Source` on every 7th row.
    for row in rows[1::7]:
        row[rows[0].index("Lead Source")] = ""
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    expected, errors = cli_score(tmp_path / "crm", [path])
    assert errors == []
    table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
        column_types={name: pa.string() for name in rows[0]}, strings_can_be_null=True))
    assert table.column("Lead Source").null_count == len(rows[1::7])
    results = pack.score_arrow(table, AS_OF)
    want = [as_row(r) for r in expected]
    for row in want:  # the CLI's pack is named after its folder; locations name its file
        for fired in row["fired"]:
            fired["location"] = fired["location"].replace("crm/crm.rules", "crm.rules")
    assert_rows_equal(results.to_pylist(), want)


def test_events_as_a_json_string_column(generated):
    path, table = generated
    small = table.slice(0, 2_000)
    lines = path.read_text().splitlines()[:2_000]
    texts = pa.array([json.dumps(json.loads(line)["events"]) for line in lines])
    as_text = small.set_column(small.schema.get_field_index("events"), "events", texts)
    pack = load("b2b-saas")
    assert pack.arrow_refusal(small) is None
    assert pack.arrow_refusal(as_text) is None, "JSON text events are read from the column too"
    assert pack.score_arrow(as_text, AS_OF).equals(pack.score_arrow(small, AS_OF))
    broken = pa.table({"id": ["a", "b", "c"], "events": ['[{"type": "page_view"', '[], "title": "CEO"', None]})
    errors = pack.score_arrow(broken, AS_OF).column("error").to_pylist()
    assert errors[0].startswith("events is not valid JSON text") and errors[1].startswith("events is not valid JSON")
    assert errors[2] is None, "a null cell is missing events"


def test_nested_structs_are_read_by_dotted_path_and_flat_dotted_columns_too():
    pack = leadscore.Pack.from_source("n", "company.size >= 50 => +10\ncompany.hq.city == \"Oslo\" => +1")
    nested = pa.table({"id": [1, 2], "company": [{"size": 60, "hq": {"city": "Oslo"}}, {"size": None, "hq": None}]})
    flat = pa.table({"id": [1, 2], "company.size": ["60", None], "company.hq.city": ["oslo", "Rome"]})
    assert pack.score_arrow(nested, AS_OF).column("score").to_pylist() == [11, 0]
    assert pack.score_arrow(flat, AS_OF).column("score").to_pylist() == [11, 0]


def test_only_the_columns_the_pack_reads_are_touched():
    """A column of a type no lead field can hold does not matter unless the pack reads it."""
    union = pa.UnionArray.from_sparse(pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array(["a", "b"])])
    table = pa.table({"id": ["a", "b"], "title": ["VP", "CEO"], "blob": union})
    assert load("b2b-saas").score_arrow(table, AS_OF).column("error").null_count == 2
    with pytest.raises(ValueError, match="column `blob`"):
        leadscore.Pack.from_source("b", "blob exists => +1").score_arrow(table, AS_OF)


def test_bad_rows_are_errors_and_the_others_are_scored(tmp_path):
    leads = [
        {"id": "ok", "title": "VP", "events": [{"type": "page_view", "at": "2026-02-28T00:00:00Z", "path": "/pricing"}]},
        {"id": "bad-time", "title": "VP", "events": [{"type": "page_view", "at": "soon", "path": "/pricing"}]},
        {"id": "no-type", "title": "VP", "events": [{"type": None, "at": "2026-02-28T00:00:00Z", "path": "/pricing"}]},
        {"id": "no-events", "title": "VP", "events": None},
    ]
    jsonl = tmp_path / "l.jsonl"
    jsonl.write_text("".join(json.dumps({k: v for k, v in lead.items() if v is not None}) + "\n" for lead in leads))
    expected, errors = cli_score("rules/b2b-saas", [jsonl])
    results = load("b2b-saas").score_arrow(pa.Table.from_pylist(leads), AS_OF).to_pylist()
    assert [r["error"] for r in results[1:3]] == [e["error"] for e in errors]
    assert all(r["score"] is None and r["tags"] is None for r in results[1:3])
    assert_rows_equal([results[0], results[3]], [as_row(r) for r in expected])
    wrong = pa.table({"id": [1], "events": pa.array([["page_view"]])})
    assert "events" in load("b2b-saas").score_arrow(wrong, AS_OF).column("error")[0].as_py()


def test_row_numbers_are_the_id_without_an_id_column():
    table = pa.table({"title": ["VP", "CEO", "intern"]})
    results = load("b2b-saas").score_arrow(pa.RecordBatchReader.from_batches(
        table.schema, table.to_batches(max_chunksize=2)), AS_OF)
    assert results.column("id").to_pylist() == [1, 2, 3]
    assert load("b2b-saas").score_arrow(table, AS_OF, id_field="title").column("id").to_pylist() == ["VP", "CEO",
                                                                                                      "intern"]


def test_polars_and_other_arrow_exporters():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"id": ["a", "b"], "title": ["VP Sales", "Intern"], "company": [{"size": 80}, {"size": 3}],
                       "industry": ["saas", "saas"]})
    results = load("b2b-saas").score_arrow(df, AS_OF)
    assert results.column("score").to_pylist() == [25.0, 0.0]
    assert isinstance(results, pa.Table)
    assert pc.sum(results.column("score")).as_py() == 25
