"""Dicts: `Pack.score`, `Pack.explain` and `Pack.score_many` against the real binary."""

import datetime
import json
import subprocess
import sys

import pytest

import leadscore
from conftest import AS_OF, PACKS, ROOT, cli_score, run_cli, sample_leads

UTC = datetime.timezone.utc


def load(pack):
    return leadscore.Pack.load(f"rules/{pack}", plugins=["plugins"])


@pytest.mark.parametrize("name", PACKS)
def test_score_is_a_line_of_leadscore_score(name):
    pack = load(name)
    leads = sample_leads(name)
    expected, errors = cli_score(f"rules/{name}", [f for f, _ in leads])
    assert errors == [] and len(expected) == len(leads)
    for (_, lead), want in zip(leads, expected):
        assert pack.score(lead, AS_OF) == want


@pytest.mark.parametrize("name", PACKS)
def test_score_many_is_leadscore_score(name):
    pack = load(name)
    leads = sample_leads(name)
    expected, _ = cli_score(f"rules/{name}", [f for f, _ in leads])
    assert pack.score_many([lead for _, lead in leads], AS_OF) == expected
    assert pack.score_many((lead for _, lead in leads), AS_OF, threads=1) == expected


@pytest.mark.parametrize("name", PACKS)
def test_explain_is_leadscore_explain(name):
    pack = load(name)
    for file, lead in sample_leads(name):
        run = run_cli("explain", "--pack", f"rules/{name}", "--as-of", AS_OF, str(file))
        assert run.returncode == 0
        assert pack.explain(lead, AS_OF) == run.stdout.decode()


def test_as_of_takes_an_aware_datetime_in_any_zone():
    pack = load("b2b-saas")
    _, lead = sample_leads("b2b-saas")[0]
    plus_one = datetime.timezone(datetime.timedelta(hours=1))
    assert pack.score(lead, datetime.datetime(2026, 3, 1, 1, 0, tzinfo=plus_one)) == pack.score(lead, AS_OF)
    assert pack.score(lead, datetime.datetime(2026, 3, 1, tzinfo=UTC)) == pack.score(lead, AS_OF)


def test_a_naive_as_of_is_an_error():
    pack = load("b2b-saas")
    for call in (pack.score, pack.explain, pack.score_many):
        with pytest.raises(ValueError, match="has no timezone"):
            call([] if call == pack.score_many else {}, datetime.datetime(2026, 3, 1))


@pytest.mark.parametrize("as_of", ["yesterday", "2026-03-01", 20260301])
def test_a_bad_as_of_is_an_error(as_of):
    with pytest.raises((ValueError, TypeError), match="as_of"):
        load("b2b-saas").score({}, as_of)


BAD_LEADS = [
    {"id": "no-type", "events": [{"at": "2026-02-01T00:00:00Z", "path": "/pricing"}]},
    {"id": "bad-time", "events": [{"type": "page_view", "at": "last tuesday", "path": "/pricing"}]},
    {"id": "events-not-a-list", "events": "page_view"},
    {"id": "event-not-an-object", "events": [3]},
]
GOOD_LEADS = [
    {"id": "ok", "title": "VP Sales", "events": [{"type": "page_view", "at": "2026-02-28T00:00:00Z", "path": "/pricing"}]},
    {"id": "no-events", "title": "CTO", "company": {"size": "120"}, "industry": "saas"},
    {"id": "wrong-types", "title": 7, "company": {"size": [1, 2]}, "email": None, "region": {"x": 1}},
    {"title": "no id"},
]


def test_bad_rows_are_errors_and_the_others_are_scored(tmp_path):
    """score_many gives an `error` result where the CLI reports the line, in the same words."""
    pack = load("b2b-saas")
    leads = BAD_LEADS + GOOD_LEADS
    jsonl = tmp_path / "leads.jsonl"
    jsonl.write_text("".join(json.dumps(lead) + "\n" for lead in leads))
    expected, cli_errors = cli_score("rules/b2b-saas", [jsonl])
    results = pack.score_many(leads, AS_OF)
    failed = [r for r in results if "error" in r]
    assert [r["id"] for r in failed] == [lead["id"] for lead in BAD_LEADS]
    assert [r["error"] for r in failed] == [e["error"] for e in cli_errors]
    assert [r for r in results if "error" not in r] == expected
    assert results[-1]["id"] == len(leads), "a lead without an id is numbered like a line"
    for lead, error in zip(BAD_LEADS, cli_errors):
        with pytest.raises(leadscore.ScoreError) as raised:
            pack.score(lead, AS_OF)
        assert str(raised.value) == error["error"]


def test_python_values_a_lead_cannot_hold_are_that_leads_error():
    pack = load("b2b-saas")
    leads = [
        {"id": 1, "title": object()},
        {"id": 2, "events": [{"type": "page_view", "at": datetime.datetime(2026, 2, 1), "path": "/x"}]},
        {"id": 3, 4: "not a string key"},
        {"id": 4, "events": [{"type": "page_view", "at": datetime.datetime(2026, 2, 28, tzinfo=UTC), "path": "/pricing"}]},
    ]
    results = pack.score_many(leads, AS_OF)
    assert "cannot read a value of type object" in results[0]["error"]
    assert "has no timezone" in results[1]["error"] and "events: [0]: at:" in results[1]["error"]
    assert "not a string" in results[2]["error"]
    assert results[3]["tags"] == ["pricing"], "an aware datetime is an RFC 3339 time"


def test_a_lead_nested_too_deep_is_that_leads_error_not_a_crash():
    """In a child process: the walk over a 200,000-deep list once overflowed the stack."""
    script = (
        "import leadscore\n"
        "deep = []\n"
        "for _ in range(200_000):\n"
        "    deep = [deep]\n"
        "pack = leadscore.Pack.load('rules/b2b-saas')\n"
        "results = pack.score_many([{'id': 1, 'title': 'VP'}, {'id': 2, 'x': deep}], '2026-03-01T00:00:00Z')\n"
        "print(results[0]['score'], results[1]['id'], results[1]['error'])\n"
        "try:\n"
        "    pack.score({'x': deep}, '2026-03-01T00:00:00Z')\n"
        "except leadscore.ScoreError as e:\n"
        "    print(e)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.splitlines()
    score = load("b2b-saas").score({"id": 1, "title": "VP"}, AS_OF)["score"]
    assert first == f"{score} 2 the lead nests more than 127 deep", first
    assert second == "the lead nests more than 127 deep", second


def test_numbers_and_missing_values_read_as_json_does():
    pack = leadscore.Pack.from_source("n", "company.size >= 50 => +10\nrevenue is missing => +1")
    nan = float("nan")
    assert pack.score({"company": {"size": "120"}, "revenue": nan}, AS_OF)["score"] == 11
    assert pack.score({"company": {"size": 49.5}, "revenue": 3}, AS_OF)["score"] == 0
    assert pack.score({"company": {"size": True}}, AS_OF)["score"] == 1


def test_score_many_checks_threads():
    with pytest.raises(ValueError, match="threads"):
        load("b2b-saas").score_many([], AS_OF, threads=0)
