"""Input that once panicked or gave wrong results (issue 25): dictionary columns with no
values, dicts changed while read, streams that break their schema, dictionary-encoded
events text, integer ids beyond 64 bits, repeated column names, and errors that say what
to do."""

import json
import sys

import pyarrow as pa
import pytest

import leadscore
from conftest import AS_OF, cli_score

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

PRICING = [{"type": "page_view", "at": "2026-02-28T00:00:00Z", "path": "/pricing"},
           {"type": "page_view", "at": "2026-02-28T00:00:00Z", "path": "/services/seo"}]


def load(name):
    return leadscore.Pack.load(f"rules/{name}", plugins=["plugins"])


def test_internal_error_is_an_ordinary_exception():
    assert issubclass(leadscore.InternalError, Exception)


@pytest.mark.parametrize("name", ["b2b-saas", "agency"])
def test_all_null_dictionary_columns_read_as_missing(name):
    """No values at all in a dictionary column (all-null categoricals) once panicked."""
    pack = load(name)
    missing = pack.score({"id": 1}, AS_OF)["score"]
    null_titles = pa.array([None, None], pa.string()).dictionary_encode()
    tables = {
        "pyarrow": pa.table({"id": [1, 2], "title": null_titles}),
        "empty chunk": pa.table({"id": pa.chunked_array([[1], [2]]),
                                 "title": pa.chunked_array([null_titles.slice(0, 1), null_titles.slice(1, 1)])}),
        "pandas": pa.Table.from_pandas(pd.DataFrame({"id": [1, 2], "title": pd.Categorical([None, None])})),
        "polars": pl.DataFrame({"id": [1, 2], "title": pl.Series([None, None], dtype=pl.Categorical)}),
    }
    for kind, table in tables.items():
        results = pack.score_arrow(table, AS_OF)
        assert results.column("score").to_pylist() == [missing, missing], kind
        assert results.column("error").to_pylist() == [None, None], kind
        refusal = pack.arrow_refusal(table)
        assert refusal is None or "enrichment hooks" in refusal, kind


def test_all_null_dictionary_children_inside_events():
    pack = load("b2b-saas")
    event = pa.struct([("type", pa.string()), ("at", pa.string()),
                       ("path", pa.dictionary(pa.int32(), pa.string()))])
    events = pa.array([[{"type": "page_view", "at": "2026-02-28T00:00:00Z", "path": None}]], pa.list_(event))
    results = pack.score_arrow(pa.table({"id": [1], "events": events}), AS_OF)
    expected = pack.score({"id": 1, "events": [{"type": "page_view", "at": "2026-02-28T00:00:00Z"}]}, AS_OF)
    assert results.column("score").to_pylist() == [expected["score"]]
    assert pack.arrow_refusal(pa.table({"id": [1], "events": events})) is None


class Mutating:
    """A number whose conversion adds a key to the lead being read."""

    def __init__(self, lead):
        self.lead = lead

    def __float__(self):
        self.lead["added"] = 1
        return 1.0


def test_a_dict_changed_while_read_is_that_leads_error():
    pack = load("b2b-saas")
    changing = {"id": 2, "title": "VP"}
    changing["company"] = {"size": Mutating(changing)}
    results = pack.score_many([{"id": 1, "title": "VP"}, changing, {"id": 3, "title": "VP"}], AS_OF)
    assert [r["id"] for r in results] == [1, 2, 3]
    assert "changed size during iteration" in results[1]["error"]
    assert "error" not in results[0] and "error" not in results[2]
    changing = {"id": 4, "title": "VP"}
    changing["company"] = {"size": Mutating(changing)}
    with pytest.raises(leadscore.ScoreError, match="changed size"):
        pack.score(changing, AS_OF)


def test_a_stream_whose_batches_break_its_schema_is_a_value_error():
    pack = load("b2b-saas")
    schema = pa.schema([("id", pa.int64()), ("title", pa.string())])
    wrong_types = pa.record_batch({"id": pa.array(["x"]), "title": pa.array([1])})
    extra_column = pa.record_batch({"id": [1], "title": ["VP"], "more": [1]})
    for bad in (wrong_types, extra_column):
        good = pa.record_batch({"id": [1], "title": ["VP"]}, schema=schema)
        reader = pa.RecordBatchReader.from_batches(schema, iter([good, bad]))
        with pytest.raises(ValueError, match="batch 2 of the Arrow stream is malformed"):
            pack.score_arrow(reader, AS_OF)


@pytest.mark.parametrize("name", ["b2b-saas", "agency"])
def test_dictionary_encoded_events_text_reads_as_plain_text(name):
    """Both paths: the Arrow reader (b2b-saas) and rows written as JSON (agency's hooks)."""
    pack = load(name)
    texts = [json.dumps(PRICING), None, json.dumps(PRICING), "[]"]
    plain = pack.score_arrow(pa.table({"id": [1, 2, 3, 4], "events": texts}), AS_OF)
    encoded = pack.score_arrow(pa.table({"id": [1, 2, 3, 4], "events": pa.array(texts).dictionary_encode()}), AS_OF)
    assert encoded.column("error").to_pylist() == [None] * 4
    assert encoded.to_pylist() == plain.to_pylist()
    first, second = plain.to_pylist()[:2]
    assert {**first, "id": 0} != {**second, "id": 0}, "the events were read"


def test_integer_ids_beyond_64_bits_stay_exact(tmp_path):
    """Kept as their digits, a string, by `score_many`, `score` and the CLI alike."""
    pack = load("b2b-saas")
    big = [2**64 + 1, 2**64 + 2, -(2**70)]
    results = pack.score_many([{"id": i, "title": "VP"} for i in big], AS_OF)
    assert [r["id"] for r in results] == [str(i) for i in big]
    assert pack.score({"id": 2**64 + 1}, AS_OF)["id"] == str(2**64 + 1)
    failed = pack.score_many([{"id": 2**64 + 3, "events": "page_view"}], AS_OF)
    assert failed[0]["id"] == str(2**64 + 3) and "events" in failed[0]["error"]
    assert pack.score_many([{"id": 2**63 - 1}, {"id": 2**64 - 1}], AS_OF)[1]["id"] == 2**64 - 1
    jsonl = tmp_path / "big.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i, "title": "VP"}) + "\n" for i in big))
    expected, errors = cli_score("rules/b2b-saas", [jsonl])
    assert errors == [] and [r["id"] for r in expected] == [str(i) for i in big]
    assert results == expected


def test_repeated_column_names_are_refused():
    pack = load("b2b-saas")
    table = pa.Table.from_arrays([pa.array([1]), pa.array(["VP"]), pa.array(["CTO"])], names=["id", "title", "title"])
    with pytest.raises(ValueError, match="more than one column named `title`"):
        pack.score_arrow(table, AS_OF)


def test_errors_say_what_to_do():
    pack = load("b2b-saas")
    frame = pl.DataFrame({"id": [1], "title": ["VP"]})
    with pytest.raises(TypeError, match=r"call \.collect\(\) on a Polars LazyFrame"):
        pack.score_arrow(frame.lazy(), AS_OF)
    with pytest.raises(TypeError, match="plugins must be a list of folders, not a string"):
        leadscore.Pack.load("rules/agency", plugins="plugins")
    deep = {"title": "VP"}
    for _ in range(200):
        deep = {"x": deep}
    assert pack.score_many([{"id": 1, "x": deep}], AS_OF)[0]["error"] == "the lead nests more than 127 deep"
    shallow = {"title": "VP"}
    for _ in range(120):
        shallow = {"x": shallow}
    assert "error" not in pack.score_many([{"id": 1, "x": shallow}], AS_OF)[0]


def test_a_huge_integer_is_that_leads_error_without_noise(capfd):
    pack = load("b2b-saas")
    results = pack.score_many([{"id": 1, "revenue": 2**20000}, {"id": 2}], AS_OF)
    assert results[0]["error"] == "revenue: an integer of 20001 bits is too large to read"
    assert "error" not in results[1]
    assert "Exception ignored" not in capfd.readouterr().err


def test_an_as_of_whose_offset_has_seconds():
    import datetime

    pack = load("b2b-saas")
    odd = datetime.timezone(datetime.timedelta(hours=1, seconds=30))
    lead = {"id": 1, "events": PRICING}
    at = datetime.datetime(2026, 3, 1, 1, 0, 30, tzinfo=odd)
    assert pack.score(lead, at) == pack.score(lead, AS_OF)


def test_frames_that_score_frame_cannot_read_say_why():
    pack = load("b2b-saas")
    with pytest.raises(TypeError, match=r"series\.to_frame\(\)"):
        pack.score_arrow(pd.Series(["VP"], name="title"), AS_OF)
    with pytest.raises(TypeError, match=r"series\.to_frame\(\)"):
        leadscore.score_frame(pd.Series(["VP"], name="title"), pack, AS_OF)
    with pytest.raises(TypeError, match=r"\.collect\(\)"):
        leadscore.score_frame(pl.DataFrame({"title": ["VP"]}).lazy(), pack, AS_OF)
    multi = pd.DataFrame({("lead", "title"): ["VP"], ("lead", "id"): [1]})
    with pytest.raises(ValueError, match="MultiIndex"):
        leadscore.score_frame(multi, pack, AS_OF)


def test_polars_null_and_128_bit_integer_columns():
    """A Null column (even one the pack does not read) and Int128 once failed in Arrow's C
    interface: a Null column reads as missing, 128-bit integers as numbers, ids exact."""
    pack = load("b2b-saas")
    big = 2**100
    df = pl.DataFrame({"id": pl.Series([1, big], dtype=pl.Int128), "title": ["VP", "VP"],
                       "nothing": pl.Series([None, None], dtype=pl.Null),
                       "revenue": pl.Series([5, -(2**90)], dtype=pl.Int128)})
    results = pack.score_arrow(df, AS_OF)
    assert results.column("error").to_pylist() == [None, None]
    want = pack.score_many([{"id": 1, "title": "VP", "revenue": 5}, {"id": big, "title": "VP", "revenue": -(2**90)}],
                           AS_OF)
    assert results.column("score").to_pylist() == [float(r["score"]) for r in want]
    assert [int(i) for i in results.column("id").to_pylist()] == [1, big]
    out = leadscore.score_frame(df, pack, AS_OF)
    assert out["error"].to_list() == [None, None] and out["id"].dtype == pl.Int128
    only_null = pl.DataFrame({"title": pl.Series([None], dtype=pl.Null)})
    assert pack.score_arrow(only_null, AS_OF).column("score").to_pylist() == [float(pack.score({}, AS_OF)["score"])]


def test_pandas_mixed_object_columns_score_row_by_row():
    """Arrow cannot hold an object column of numbers and strings (or dicts and numbers);
    such a frame is read as dicts are, and a value that cannot be read is its row's error."""
    pack = load("b2b-saas")
    rows = [{"id": 1, "title": "VP", "company": {"size": 500}},
            {"id": 2, "title": 7, "company": "Acme"},
            {"id": 3, "title": "VP", "company": {"size": "2000"}},
            {"id": 4, "title": object(), "company": None}]
    df = pd.DataFrame(rows)
    out = leadscore.score_frame(df, pack, AS_OF)
    want = pack.score_many(rows, AS_OF)
    assert out["score"].tolist()[:3] == [float(r["score"]) for r in want[:3]]
    assert out["error"].isna().tolist() == [True, True, True, False]
    assert "cannot read a value of type object" in out["error"][3]
    assert want[3]["error"] == out["error"][3]
    assert len(out) == 4 and list(out["id"]) == [1, 2, 3, 4]
    # As of each row's own time, too.
    df["at"] = ["2026-03-01T00:00:00Z", None, "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z"]
    out = leadscore.score_frame(df, pack, as_of_field="at")
    assert out["score"][0] == float(want[0]["score"])
    assert out["error"][1] == "the lead has no `at` to judge it as of"


def test_a_plugin_pack_on_a_frame_of_more_than_1000_columns(tmp_path):
    """The hook's lead is wider than `map_size`: the message says which limit and how to
    raise it, and the pack that raises it scores the frame."""
    columns = {f"c{i}": [i] for i in range(1200)}
    table = pa.table({"id": [1], "title": ["VP Sales"], **columns})
    pack = load("agency")
    error = pack.score_arrow(table, AS_OF).column("error").to_pylist()[0]
    assert "the lead has 1202 fields" in error and "limit map_size 2000" in error
    folder = tmp_path / "wide"
    folder.mkdir()
    for name, text in pack.sources:
        (folder / name.split("/")[-1]).write_text(text)
    (folder / "limits.rules").write_text("limit map_size 2000\n")
    wide = leadscore.Pack.load(folder, plugins=["plugins"])
    results = wide.score_arrow(table, AS_OF)
    assert results.column("error").to_pylist() == [None]
    narrow = pack.score_arrow(pa.table({"id": [1], "title": ["VP Sales"]}), AS_OF)
    assert results.column("score").to_pylist() == narrow.column("score").to_pylist()
