"""Threads, fork, spawn and pickle, Ctrl-C, and memory (issue 25): each run in a fresh
interpreter where the process itself is what is tested (its threads, its children, its
signals), bounded in time."""

import gc
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pyarrow as pa
import pytest

import leadscore
from conftest import AS_OF, ROOT


def run(script, timeout=120):
    """A script (a file, so spawned children can import its functions) in a fresh
    interpreter from the repository root; the words it prints."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "script.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(script))
        done = subprocess.run([sys.executable, path], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def load(name):
    return leadscore.Pack.load(f"rules/{name}", plugins=["plugins"])


LEAD = {"id": 7, "title": "VP Marketing", "email": "a@gmail.com", "company": {"size": 80},
        "events": [{"type": "page_view", "at": "2026-02-28T00:00:00Z", "path": "/pricing"}]}


@pytest.mark.parametrize("threads", [True, False, -1, 0, 2**40, 10**6])
def test_threads_out_of_range_or_not_a_number_is_a_value_error(threads):
    pack = load("b2b-saas")
    for call in (lambda: pack.score_many([LEAD], AS_OF, threads=threads),
                 lambda: pack.score_arrow(pa.Table.from_pylist([{"id": 1}]), AS_OF, threads=threads)):
        with pytest.raises(ValueError, match="threads must be a whole number from 1 to"):
            call()


def test_threads_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="threads must be"):
        load("b2b-saas").score_many([LEAD], AS_OF, threads="2")


def test_one_pool_whatever_sizes_are_asked_for():
    """Every size from 1 to the most allowed, once each: the process ends with one pool's threads."""
    lines = run("""
        import os, time, leadscore
        pack = leadscore.Pack.load("rules/b2b-saas")
        most = 4 * os.cpu_count()
        threads = lambda: len(os.listdir("/proc/self/task"))
        before = threads()
        for n in range(1, most + 1):
            pack.score_many([{"id": 1}] * 100, "2026-03-01T00:00:00Z", threads=n)
        deadline = time.monotonic() + 10
        while threads() > before + most and time.monotonic() < deadline:
            time.sleep(0.05)  # the replaced pools' threads end as they see they are done
        print(threads() - before, most)
    """)
    added, most = map(int, lines)
    assert added <= most, f"{added} threads left after asking for every size up to {most}"


def test_a_forked_child_scores():
    """`os.fork` after scoring: the child scores (with the parent's Pack and a new one)."""
    lines = run("""
        import os, signal, leadscore
        pack = leadscore.Pack.load("rules/b2b-saas")
        lead = {"id": 1, "title": "VP"}
        want = pack.score(lead, "2026-03-01T00:00:00Z")["score"]
        pack.score_many([lead] * 5000, "2026-03-01T00:00:00Z")
        pid = os.fork()
        if pid == 0:
            signal.alarm(20)  # a child that hangs is killed, and the parent sees it
            got = pack.score(lead, "2026-03-01T00:00:00Z")["score"]
            many = pack.score_many([lead] * 5000, "2026-03-01T00:00:00Z", threads=2)
            other = leadscore.Pack.load("rules/b2b-saas").score(lead, "2026-03-01T00:00:00Z")["score"]
            os._exit(0 if got == want == other and len(many) == 5000 else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """, timeout=60)
    assert lines == ["0"], "the child did not score (exit code, or minus the signal that killed it)"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_pools_score(method):
    lines = run(f"""
        import multiprocessing, leadscore

        def score(args):
            pack, lead = args
            return pack.score(lead, "2026-03-01T00:00:00Z")["score"]

        if __name__ == "__main__":
            pack = leadscore.Pack.load("rules/agency", plugins=["plugins"])
            leads = [{{"id": i, "title": "VP Marketing", "company": {{"size": 80 + i}}}} for i in range(20)]
            want = [r["score"] for r in pack.score_many(leads, "2026-03-01T00:00:00Z")]
            with multiprocessing.get_context("{method}").Pool(2) as workers:
                got = workers.map(score, [(pack, lead) for lead in leads])
            print(got == want)
    """, timeout=120)
    assert lines == ["True"]


def test_a_pack_pickles_as_its_texts(tmp_path):
    """Unpickled after its folder and plugins are gone: the same version and results."""
    shutil.copytree(ROOT / "rules" / "agency", tmp_path / "agency")
    shutil.copytree(ROOT / "plugins", tmp_path / "plugins")
    pack = leadscore.Pack.load(tmp_path / "agency", plugins=[tmp_path / "plugins"])
    data = pickle.dumps(pack)
    shutil.rmtree(tmp_path)
    copy = pickle.loads(data)
    assert (copy.name, copy.version, copy.sources, copy.plugin_sources) == \
        (pack.name, pack.version, pack.sources, pack.plugin_sources)
    assert copy.score(LEAD, AS_OF) == pack.score(LEAD, AS_OF)
    from_source = leadscore.Pack.from_source("demo", "title ~ VP => +5")
    assert pickle.loads(pickle.dumps(from_source)).score(LEAD, AS_OF) == from_source.score(LEAD, AS_OF)


def test_plugin_sources_are_what_the_pack_runs(tmp_path):
    shutil.copytree(ROOT / "plugins", tmp_path / "plugins")
    pack = leadscore.Pack.load("rules/agency", plugins=[tmp_path / "plugins"])
    before = pack.plugin_sources
    (tmp_path / "plugins" / "email.rhai").write_text("fn is_free_email(e) { true }")
    assert pack.plugin_sources == before


@pytest.mark.parametrize("call", ["score_many", "score_arrow"])
def test_ctrl_c_stops_a_long_call_within_a_second(call):
    """SIGINT half a second into a call that would take far longer: KeyboardInterrupt, soon."""
    lines = run(f"""
        import os, signal, threading, time, leadscore, pyarrow as pa
        pack = leadscore.Pack.load("rules/b2b-saas")
        lead = {{"id": 1, "title": "VP", "company": {{"size": "120"}},
                "events": [{{"type": "page_view", "at": "2026-02-28T00:00:00Z", "path": "/pricing"}}] * 20}}
        leads = [lead] * 20_000
        data = leads if "{call}" == "score_many" else pa.Table.from_pylist(leads)
        start = time.monotonic()
        getattr(pack, "{call}")(data, "2026-03-01T00:00:00Z", threads=1)
        alone = time.monotonic() - start
        repeat = max(3, int(6 / max(alone, 0.01)))  # a call of at least 6 s
        data = leads * repeat if "{call}" == "score_many" else pa.concat_tables([data] * repeat)
        sent = []
        def interrupt():
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)
        threading.Timer(0.5, interrupt).start()
        start = time.monotonic()
        try:
            getattr(pack, "{call}")(data, "2026-03-01T00:00:00Z", threads=1)
            print("finished", time.monotonic() - start)
        except KeyboardInterrupt:
            print("interrupted", time.monotonic() - sent[0], alone * repeat)
    """, timeout=300)
    assert lines[0] == "interrupted", lines
    late, whole = float(lines[1]), float(lines[2])
    assert late < 1.0, f"KeyboardInterrupt {late:.2f} s after SIGINT (the call takes {whole:.1f} s)"


def test_score_many_sets_off_no_full_collection_and_restores_the_collector():
    pack = load("b2b-saas")
    leads = [dict(LEAD, id=i) for i in range(60_000)]
    keep = [[i] for i in range(300_000)]  # objects a full collection would walk
    full = []
    callback = lambda phase, info: phase == "start" and info["generation"] == 2 and full.append(1)  # noqa: E731
    gc.collect()
    gc.callbacks.append(callback)
    try:
        results = pack.score_many(leads, AS_OF)
    finally:
        gc.callbacks.remove(callback)
    assert len(results) == len(leads) and len(keep) == 300_000
    assert full == [], f"{len(full)} full collections during score_many"
    assert gc.isenabled()
    gc.disable()
    try:
        pack.score_many(leads[:10], AS_OF)
        assert not gc.isenabled(), "a collector the caller disabled stays disabled"
    finally:
        gc.enable()


def test_score_arrow_results_do_not_keep_the_input_alive():
    pack = load("b2b-saas")
    ids = pa.array([f"lead-{i:07d}" + "x" * 100 for i in range(200_000)])
    table = pa.table({"id": ids, "title": pa.array(["VP"] * 200_000)})
    del ids
    before = pa.total_allocated_bytes()
    results = pack.score_arrow(table, AS_OF)
    input_bytes = table.nbytes
    del table
    freed = before - pa.total_allocated_bytes() + results.nbytes
    assert freed >= input_bytes * 0.9, f"{freed} of the input's {input_bytes} bytes freed while the results live"
    assert results.column("id")[199_999].as_py().startswith("lead-0199999")


def test_small_batches_are_scored_together_with_the_same_results():
    """10,000 rows in batches of 10 score as one table does, in one result batch, not 1,000."""
    pack = load("b2b-saas")
    table = pa.Table.from_pylist([dict(LEAD, id=i, company={"size": str(i)}) for i in range(10_000)])
    small = pa.Table.from_batches(table.to_batches(max_chunksize=10))
    assert small.column("id").num_chunks == 1_000
    results = pack.score_arrow(small, AS_OF)
    assert results.to_pylist() == pack.score_arrow(table, AS_OF).to_pylist()
    assert len(results.to_batches()) == 1
    numbered = pack.score_arrow(small.drop_columns(["id"]), AS_OF)
    assert numbered.column("id").to_pylist() == list(range(1, 10_001))
