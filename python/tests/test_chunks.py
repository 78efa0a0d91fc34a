"""`Pack.score_chunks`: `score_many` a chunk at a time over any iterator, with bounded
memory (issue 25): the leads are read as the chunks are asked for, never far ahead."""

import itertools

import pytest

import leadscore
from conftest import AS_OF


def load():
    return leadscore.Pack.load("rules/b2b-saas")


def leads(n, read=None):
    """`n` leads from a generator that counts how many were taken."""
    for i in range(n):
        if read is not None:
            read[0] += 1
        lead = {"title": "VP Sales" if i % 3 else "Intern", "company": {"size": i % 700}}
        if i % 5:
            lead["id"] = f"L-{i}"
        yield lead


def test_chunks_are_score_many_cut_into_pieces():
    pack = load()
    chunks = list(pack.score_chunks(leads(5000), AS_OF, chunk_size=1000))
    assert [len(c) for c in chunks] == [1000] * 5
    assert list(itertools.chain.from_iterable(chunks)) == pack.score_many(leads(5000), AS_OF)
    # Leads without an id get their position in the whole input, not in the chunk.
    assert chunks[3][0]["id"] == 3001
    last = list(pack.score_chunks(leads(2500), AS_OF, chunk_size=1000))
    assert [len(c) for c in last] == [1000, 1000, 500]
    assert list(pack.score_chunks([], AS_OF)) == []


def test_leads_are_read_as_chunks_are_asked_for():
    """Memory stays bounded: at most the chunk handed over, the one being scored and the
    one being read are held, whatever the input's length."""
    pack = load()
    read = [0]
    stream = pack.score_chunks(leads(10**9, read), AS_OF, chunk_size=500)
    for n, chunk in enumerate(itertools.islice(stream, 20), start=1):
        assert len(chunk) == 500
        assert read[0] <= (n + 2) * 500, f"read {read[0]} leads for {n} chunks"
    assert read[0] < 12_000


def test_bad_leads_are_their_rows_and_errors_of_the_input_stop_the_stream():
    pack = load()
    chunk = next(iter(pack.score_chunks([{"id": 1, "title": "VP"}, {"id": 2, "x": object()}], AS_OF)))
    assert "error" not in chunk[0] and "cannot read a value of type object" in chunk[1]["error"]

    def failing():
        yield {"id": 1}
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        list(pack.score_chunks(failing(), AS_OF))


@pytest.mark.parametrize("size", [0, -1, True, 2**21, 1.5])
def test_chunk_size_is_checked(size):
    with pytest.raises((ValueError, TypeError), match="chunk_size must be a whole number from 1"):
        load().score_chunks([], AS_OF, chunk_size=size)
