"""`leadscore.spark.score` on a real PySpark session (`local[2]`), against the real binary."""

import json
import os
import re
import sys

import pyarrow as pa
import pyarrow.json as pj
import pytest

import leadscore
import leadscore.spark
from conftest import AS_OF, ROOT, as_row, assert_rows_equal, cli_score, run_cli
from generated import GEN_SCHEMA

pyspark = pytest.importorskip("pyspark")
from pyspark.sql import SparkSession  # noqa: E402



@pytest.fixture(scope="module")
def spark():
    # The Python workers run this interpreter, where leadscore is installed.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (SparkSession.builder.master("local[2]").appName("leadscore-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.driver.host", "127.0.0.1")
               .getOrCreate())
    yield session
    session.stop()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """10,000 generated leads (sizes as strings) as JSON Lines and as a pyarrow table."""
    raw = run_cli("gen", "--leads", "10000").stdout.decode()
    path = tmp_path_factory.mktemp("spark") / "leads.jsonl"
    path.write_text(re.sub(r'"size":(\d+)', r'"size":"\1"', raw))
    return path, pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=GEN_SCHEMA))


def collect(df):
    rows = df.toArrow().to_pylist()
    return sorted(rows, key=lambda r: str(r["id"]))


def test_spark_results_equal_the_cli(spark, generated):
    path, table = generated
    df = spark.createDataFrame(table).repartition(4)
    results = leadscore.spark.score(df, "rules/b2b-saas", AS_OF)
    assert results.columns == ["id"] + leadscore.RESULT_COLUMNS
    expected, errors = cli_score("rules/b2b-saas", [path])
    assert errors == []
    assert_rows_equal(collect(results), sorted((as_row(r) for r in expected), key=lambda r: r["id"]))


def test_a_pack_with_plugins_travels_as_text(spark, generated, tmp_path):
    """agency's plugins are shipped with its rules; the executors load none from disk."""
    path, table = generated
    few = tmp_path / "few.jsonl"
    few.write_text("".join(path.read_text().splitlines(keepends=True)[:1_000]))
    pack = leadscore.Pack.load("rules/agency", plugins=["plugins"])
    df = spark.createDataFrame(table.slice(0, 1_000))
    expected, _ = cli_score("rules/agency", [few])
    got = collect(leadscore.spark.score(df, pack, AS_OF))
    assert_rows_equal(got, sorted((as_row(r) for r in expected), key=lambda r: r["id"]))


def test_bad_rows_are_rows_with_an_error(spark, tmp_path):
    leads = [
        {"id": "ok", "title": "VP", "events": [{"type": "page_view", "at": "2026-02-28T00:00:00Z", "path": "/pricing"}]},
        {"id": "bad-time", "title": "VP", "events": [{"type": "page_view", "at": "soon", "path": "/pricing"}]},
        {"id": "no-events", "title": "VP"},
    ]
    jsonl = tmp_path / "l.jsonl"
    jsonl.write_text("".join(json.dumps(lead) + "\n" for lead in leads))
    expected, errors = cli_score("rules/b2b-saas", [jsonl])
    df = spark.createDataFrame(pa.Table.from_pylist(leads))
    got = collect(leadscore.spark.score(df, "rules/b2b-saas", AS_OF))
    assert [r["error"] for r in got] == [errors[0]["error"], None, None]
    assert_rows_equal([got[2], got[1]], [as_row(r) for r in expected])


def test_a_batch_that_cannot_be_read_fails_its_rows_not_the_task(spark):
    """Naive timestamps (Spark's TIMESTAMP_NTZ) are refused: every row says why."""
    df = spark.sql("SELECT id, 'VP' AS title, TIMESTAMP_NTZ'2026-02-01 00:00:00' AS seen FROM range(5)")
    pack = leadscore.Pack.from_source("ntz", "seen exists => +1")
    got = collect(leadscore.spark.score(df, pack, AS_OF))
    assert len(got) == 5 and all("without a timezone" in r["error"] and r["score"] is None for r in got)


def test_the_pack_is_compiled_once_per_worker(monkeypatch):
    """What a Spark task runs, run here: many batches, one compile."""
    built = []
    build = leadscore.spark._build
    monkeypatch.setattr(leadscore.spark, "_build", lambda payload: built.append(1) or build(payload))
    monkeypatch.setattr(leadscore.spark, "_PACKS", {})
    pack = leadscore.Pack.load("rules/agency", plugins=["plugins"])
    payload = (pack.name, pack.sources, pack.plugin_sources)
    table = pa.table({"id": list(range(100)), "title": ["VP Marketing"] * 100, "company": [{"size": 80}] * 100})
    for _ in range(3):  # three tasks on one worker
        out = list(leadscore.spark._score_batches(payload, (AS_OF, None), "id", iter(table.to_batches(max_chunksize=10))))
        assert sum(b.num_rows for b in out) == 100
    assert built == [1]
    rebuilt = leadscore.spark._PACKS.popitem()[1]
    assert (rebuilt.name, rebuilt.version) == (pack.name, pack.version), "the same rules and plugins"


def test_score_checks_its_arguments(spark):
    df = spark.createDataFrame(pa.table({"lead": [1]}))
    with pytest.raises(ValueError, match="no column `id`"):
        leadscore.spark.score(df, "rules/b2b-saas", AS_OF)
    with pytest.raises(ValueError, match="as_of"):
        leadscore.spark.score(df, "rules/b2b-saas", "soon", id_field="lead")


def leadscore_temp_folders():
    import tempfile
    return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("leadscore-")}


def test_executors_run_the_drivers_pack_not_the_files_on_disk(spark, tmp_path):
    """The plugin changed and then deleted after loading: Spark still scores as the Pack does,
    with the same version, and no worker leaves a temporary folder behind."""
    import shutil

    folder = tmp_path / "agency"
    shutil.copytree(ROOT / "rules" / "agency", folder)
    shutil.copytree(ROOT / "plugins", tmp_path / "plugins")
    pack = leadscore.Pack.load(folder, plugins=[tmp_path / "plugins"])
    leads = [{"id": i, "title": "VP Marketing", "email": f"x{i}@gmail.com", "company": {"size": 80}} for i in range(50)]
    table = pa.Table.from_pylist(leads)
    local = sorted(pack.score_arrow(table, AS_OF).to_pylist(), key=lambda r: str(r["id"]))
    for plugin in (tmp_path / "plugins").glob("*.rhai"):
        plugin.write_text("fn broken( {")
    before = leadscore_temp_folders()
    got = collect(leadscore.spark.score(spark.createDataFrame(table), pack, AS_OF))
    assert_rows_equal(got, local)
    shutil.rmtree(tmp_path / "plugins")
    shutil.rmtree(folder / "plugins", ignore_errors=True)
    assert_rows_equal(collect(leadscore.spark.score(spark.createDataFrame(table), pack, AS_OF)), local)
    assert leadscore_temp_folders() <= before, "no temporary folder per pack"
    rebuilt = leadscore.spark._build((pack.name, pack.sources, pack.plugin_sources))
    assert rebuilt.version == pack.version


def test_score_with_a_path_takes_plugins(spark, tmp_path):
    import shutil

    shutil.copytree(ROOT / "plugins", tmp_path / "elsewhere")
    table = pa.table({"id": [1], "title": ["VP Marketing"], "company": [{"size": 80}]})
    got = collect(leadscore.spark.score(spark.createDataFrame(table), "rules/agency", AS_OF,
                                        plugins=[str(tmp_path / "elsewhere")]))
    want = leadscore.Pack.load("rules/agency", plugins=["plugins"]).score_arrow(table, AS_OF).to_pylist()
    assert_rows_equal(got, want)
    with pytest.raises(leadscore.PackError, match="unknown plugin `email`"):
        leadscore.spark.score(spark.createDataFrame(table), "rules/agency", AS_OF, plugins=[str(tmp_path / "none")])


def test_spark_scores_each_row_as_of_its_own_time(spark):
    """`as_of_field=`: strings and Spark timestamps alike, as `score_arrow` scores them."""
    import datetime

    pricing = json.dumps([{"type": "page_view", "path": "/pricing", "at": "2026-02-27T09:00:00Z"}])
    table = pa.table({"id": [1, 2, 3], "title": ["VP Sales"] * 3, "events": [pricing] * 3,
                      "handed_at": ["2026-02-28T00:00:00Z", "2026-02-20T00:00:00Z", None]})
    want = leadscore.Pack.load("rules/b2b-saas").score_arrow(table, as_of_field="handed_at")
    df = spark.createDataFrame(table)
    got = collect(leadscore.spark.score(df, "rules/b2b-saas", as_of_field="handed_at"))
    assert [(r["score"], r["error"]) for r in got] == list(zip(want.column("score").to_pylist(),
                                                                 want.column("error").to_pylist()))
    assert got[0]["score"] != got[1]["score"], "the visit counts for the lead handed over after it"
    stamps = [datetime.datetime(2026, 2, 28, tzinfo=datetime.timezone.utc),
              datetime.datetime(2026, 2, 20, tzinfo=datetime.timezone.utc), None]
    stamped = spark.createDataFrame(table.set_column(3, "handed_at", pa.array(stamps, pa.timestamp("us", tz="UTC"))))
    again = collect(leadscore.spark.score(stamped, "rules/b2b-saas", as_of_field="handed_at"))
    assert [r["score"] for r in again] == [r["score"] for r in got]
    with pytest.raises(ValueError, match="no column `when`"):
        leadscore.spark.score(df, "rules/b2b-saas", as_of_field="when")
    with pytest.raises(TypeError, match="not both"):
        leadscore.spark.score(df, "rules/b2b-saas", AS_OF, as_of_field="handed_at")
