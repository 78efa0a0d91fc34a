"""Throughput of the Python paths against `leadscore score`, in one run, on one set of leads.

    cargo build --release && pip install ./python pyspark
    python python/bench/bench.py [--leads 100000] [--spark-leads 100000] [--rounds 3]
    python python/bench/bench.py --leads 1000000 --events-per-lead 2 --spark-leads 0 --only score_many,score_chunks,score_arrow/

``--only`` keeps the contenders whose names start with one of the given prefixes (the
second command: `score_many` and `score_chunks` on dicts against `score_arrow` on the same
leads, without the CLI, which then only generates the leads).

Leads are `leadscore gen` leads (seed 1, 20 events each) with `company.size` written as a
string (an Arrow column has one type); the CLI scores the very same JSON Lines file. Every
contender is run `--rounds` times, interleaved, and keeps its fastest round. `score_arrow`
gets a pyarrow table read from the file beforehand (and, as `score_arrow-events-as-text`,
the same table with `events` as a column of JSON text); `score_many` gets the leads as dicts parsed beforehand; Spark
gets a cached DataFrame made from the table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj

import leadscore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from generated import GEN_SCHEMA  # noqa: E402  (shared with the tests)

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-03-01T00:00:00Z"
PACK = "rules/b2b-saas"


def timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--leads", type=int, default=100_000)
    args.add_argument("--spark-leads", type=int, default=100_000)
    args.add_argument("--rounds", type=int, default=3)
    args.add_argument("--binary", default=str(ROOT / "target/release/leadscore"))
    args.add_argument("--events-per-lead", type=int, default=20)
    args.add_argument("--only", default="", help="comma-separated prefixes of the contenders to run")
    opts = args.parse_args()
    os.chdir(ROOT)
    work = Path(tempfile.mkdtemp(prefix="leadscore-bench-"))
    raw = subprocess.run([opts.binary, "gen", "--leads", str(opts.leads), "--events-per-lead", str(opts.events_per_lead)],
                         capture_output=True, check=True).stdout
    path = work / "leads.jsonl"
    path.write_text(re.sub(r'"size":(\d+)', r'"size":"\1"', raw.decode()))
    table = pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=GEN_SCHEMA))
    dicts = [json.loads(line) for line in path.read_text().splitlines()]
    # The same leads with `events` as JSON text, as warehouses often keep them.
    as_text = table.set_column(table.schema.get_field_index("events"), "events",
                               pa.array([json.dumps(d["events"]) for d in dicts]))
    pack = leadscore.Pack.load(PACK)
    n = opts.leads
    print(f"{n} leads, {path.stat().st_size / 1e6:.0f} MB of JSON Lines, pack {pack.name}@{pack.version}, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)

    def cli(threads):
        subprocess.run([opts.binary, "score", "--pack", PACK, "--as-of", AS_OF, "--threads", str(threads), str(path)],
                       stdout=subprocess.DEVNULL, check=True)

    def chunks(threads):
        """Streamed: each chunk's results dropped once counted, as a consumer that writes them out."""
        return sum(len(c) for c in pack.score_chunks(iter(dicts), AS_OF, threads=threads))

    contenders = {
        "cli/1-thread": lambda: cli(1),
        "score_arrow/1-thread": lambda: pack.score_arrow(table, AS_OF, threads=1),
        "score_arrow-events-as-text/1-thread": lambda: pack.score_arrow(as_text, AS_OF, threads=1),
        "score_many/1-thread": lambda: pack.score_many(dicts, AS_OF, threads=1),
        "score_chunks/1-thread": lambda: chunks(1),
        "cli/2-thread": lambda: cli(2),
        "score_arrow/2-thread": lambda: pack.score_arrow(table, AS_OF, threads=2),
        "score_many/2-thread": lambda: pack.score_many(dicts, AS_OF, threads=2),
        "score_chunks/2-thread": lambda: chunks(2),
    }
    if opts.only:
        prefixes = tuple(opts.only.split(","))
        contenders = {name: run for name, run in contenders.items() if name.startswith(prefixes)}
    best = {name: float("inf") for name in contenders}
    for _ in range(opts.rounds):
        for name, run in contenders.items():
            best[name] = min(best[name], timed(run))
    for name, seconds in best.items():
        print(f"{name:30} {seconds:7.3f} s  {seconds / n * 1e6:6.2f} µs/lead  {n / seconds / 1e3:7.1f} k leads/s")
    for threads in (1, 2):
        many, arrow = best.get(f"score_many/{threads}-thread"), best.get(f"score_arrow/{threads}-thread")
        if many and arrow:
            print(f"score_many (dicts) / score_arrow (table), {threads} thread(s): {many / arrow:.2f}x the time")
        streamed = best.get(f"score_chunks/{threads}-thread")
        if streamed and arrow:
            print(f"score_chunks (dicts) / score_arrow (table), {threads} thread(s): {streamed / arrow:.2f}x the time")
    if "cli/1-thread" in best:
        one = best["cli/1-thread"]
        print(f"score_arrow / cli, 1 thread: {one / best['score_arrow/1-thread']:.2f}x the throughput")
        print(f"score_arrow, events as structs / as JSON text, 1 thread: "
              f"{best['score_arrow-events-as-text/1-thread'] / best['score_arrow/1-thread']:.2f}x the throughput")
        print(f"score_many - cli, 1 thread: {(best['score_many/1-thread'] - one) / n * 1e6:+.2f} µs/lead")
    if opts.spark_leads:
        spark_bench(opts, pack, table.slice(0, opts.spark_leads), path, work)


def spark_bench(opts, pack, table, path, work):
    """A local[2] job (mapInArrow, 2 tasks at a time) against the CLI on both cores."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    import leadscore.spark

    n = table.num_rows
    few = work / "spark.jsonl"
    with open(path) as src, open(few, "w") as dst:
        for _, line in zip(range(n), src):
            dst.write(line)
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
             .getOrCreate())
    df = spark.createDataFrame(table).repartition(8).cache()
    df.count()

    def job():
        leadscore.spark.score(df, pack, AS_OF).write.format("noop").mode("overwrite").save()

    def cli():
        subprocess.run([opts.binary, "score", "--pack", PACK, "--as-of", AS_OF, str(few)],
                       stdout=subprocess.DEVNULL, check=True)

    job()  # the Python workers start and compile the pack once
    spark_s = cli_s = float("inf")
    for _ in range(opts.rounds):
        spark_s = min(spark_s, timed(job))
        cli_s = min(cli_s, timed(cli))
    print(f"spark local[2] {n} leads: {spark_s:.3f} s, {n / spark_s / 1e3:.1f} k leads/s; "
          f"cli 2 threads: {cli_s:.3f} s, {n / cli_s / 1e3:.1f} k leads/s; spark/cli {cli_s / spark_s:.2f}x")
    spark.stop()


if __name__ == "__main__":
    main()
