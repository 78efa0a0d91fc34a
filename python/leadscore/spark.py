"""Scoring a PySpark DataFrame with a pack, on the executors.

``score(df, pack, as_of)`` runs ``df.mapInArrow`` with a declared result schema. The
pack's rule files and plugin scripts travel to the executors as the text the driver's
``Pack`` compiled (never read again from disk: an executor runs exactly the driver's
pack, with the same ``version``) and are compiled once per Python worker (kept in this
module's cache, in memory, no temporary files), not once per batch. Each Arrow
batch is scored by ``Pack.score_arrow``; a row that cannot be scored is a row with
``error`` set, and a batch that cannot be read at all gives every one of its rows that
error, so a task never fails because of the data.
"""

from __future__ import annotations

import functools
import hashlib
import os
from typing import Any, Dict, Iterator, List, Tuple, Union

from . import Pack, as_pack
from ._native import as_of_text

#: What travels to the executors: the pack's name, its rule files and its plugin scripts.
Payload = Tuple[str, List[Tuple[str, str]], List[Tuple[str, str]]]

_PACKS: Dict[str, Pack] = {}


def score(df: Any, pack: Union[Pack, str, "os.PathLike[str]"], as_of: Any = None, id_field: str = "id",
          plugins: Any = None, as_of_field: Union[str, None] = None) -> Any:
    """A DataFrame of ``id`` (the ``id_field`` column) and the result columns, one row per input row.

    ``pack`` is a ``Pack`` or a pack folder's path, loaded on the driver with ``plugins``
    (the plugin search path, as ``Pack.load`` takes it). Rows are scored as of ``as_of``,
    or each as of its own time in the column ``as_of_field`` (RFC 3339 strings or
    timestamps), as ``leadscore backtest --as-of-field`` judges each lead.
    """
    from pyspark.sql.types import StructField

    if plugins is not None and isinstance(pack, Pack):
        raise TypeError("plugins= is for a pack given by its path; a Pack already has its plugins")
    pack = as_pack(pack, plugins)
    if id_field not in df.columns:
        raise ValueError(f"the DataFrame has no column `{id_field}` to identify its rows; pass id_field=")
    # Checked here, on the driver, so that a bad time is one clear error, not one per row.
    if (as_of is None) == (as_of_field is None):
        raise TypeError("give as_of (one time for every row) or as_of_field (a column of times)"
                        + ("" if as_of is None else ", not both"))
    if as_of_field is not None and as_of_field not in df.columns:
        raise ValueError(f"as_of_field: the DataFrame has no column `{as_of_field}` to score each row as of")
    when = (as_of_text(as_of), None) if as_of_field is None else (None, as_of_field)
    schema = result_schema(StructField("id", df.schema[id_field].dataType, True))
    payload: Payload = (pack.name, pack.sources, pack.plugin_sources)
    return df.mapInArrow(functools.partial(_score_batches, payload, when, id_field), schema)


def result_schema(id_field: Any) -> Any:
    """The Spark schema of the results, after the given ``id`` field."""
    from pyspark.sql.types import (ArrayType, BooleanType, DoubleType, MapType, StringType, StructField,
                                   StructType)

    fired = StructType([
        StructField("rule", StringType(), True),
        StructField("points", DoubleType(), True),
        StructField("dimension", StringType(), True),
        StructField("location", StringType(), True),
    ])
    return StructType([
        id_field,
        StructField("score", DoubleType(), True),
        StructField("mql", BooleanType(), True),
        StructField("disqualified", StringType(), True),
        StructField("route", StringType(), True),
        StructField("tags", ArrayType(StringType(), True), True),
        StructField("dimensions", MapType(StringType(), DoubleType(), True), True),
        StructField("fired", ArrayType(fired, True), True),
        StructField("error", StringType(), True),
    ])


def _score_batches(payload: Payload, when: Tuple[Union[str, None], Union[str, None]], id_field: str,
                   batches: Iterator[Any]) -> Iterator[Any]:
    """Runs on an executor: one task's batches, scored with the worker's compiled pack,
    as of one time or each row as of its own (``when`` is ``(as_of, as_of_field)``)."""
    import pyarrow as pa

    pack = _pack(payload)
    as_of, as_of_field = when
    for batch in batches:
        try:
            results = pack.score_arrow(batch, as_of, id_field=id_field, threads=1, as_of_field=as_of_field)
        except Exception as e:  # the batch as a whole could not be read: every row says why
            results = _failed(pack, batch, id_field, f"{type(e).__name__}: {e}", pa)
        yield from results.to_batches()


def _failed(pack: Pack, batch: Any, id_field: str, message: str, pa: Any) -> Any:
    """Results for a batch that could not be read: its ids, and `message` as every row's error."""
    ids = batch.column(id_field)
    # Only the results' schema is wanted: no row is scored.
    schema = pack.score_arrow(pa.table({id_field: ids.slice(0, 0)}), "1970-01-01T00:00:00Z", id_field=id_field).schema
    columns = [ids] + [pa.nulls(batch.num_rows, field.type) for field in schema][1:-1]
    columns.append(pa.array([message] * batch.num_rows, pa.string()))
    return pa.Table.from_arrays(columns, schema=schema)


def _pack(payload: Payload) -> Pack:
    """The worker's pack for a payload: compiled the first time a task of this worker sees it."""
    key = hashlib.sha256(repr(payload).encode()).hexdigest()
    pack = _PACKS.get(key)
    if pack is None:
        pack = _PACKS[key] = _build(payload)
    return pack


def _build(payload: Payload) -> Pack:
    """The pack compiled again from its texts, reading no file."""
    name, sources, plugins = payload
    return Pack.from_texts(name, sources, plugins)


def compiled_packs() -> int:
    """How many packs this Python process has compiled for Spark tasks (for tests and logs)."""
    return len(_PACKS)
