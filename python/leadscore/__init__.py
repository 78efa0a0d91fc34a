"""Lead scoring as code, from Python.

The same packs and the same results as the ``leadscore`` command line: ``Pack.load`` a
pack folder (or ``Pack.from_source``), then score a dict (``score``), many dicts in
parallel (``score_many``, or chunk by chunk with ``score_chunks``), Arrow data
(``score_arrow``), a pandas or Polars frame (``score_frame``) or a PySpark DataFrame
(``leadscore.spark.score``). And the outcome tools, with the reports their ``--json``
prints: ``backtest``, ``fit``, ``diff`` and ``drift``.
"""

from __future__ import annotations

import os
from typing import Any, Union

from . import _native
from ._native import InternalError, Pack, PackError, ScoreChunks, ScoreError

__all__ = ["Pack", "PackError", "ScoreError", "InternalError", "ScoreChunks", "score_frame", "as_pack",
           "backtest", "fit", "diff", "drift", "frame"]

#: The columns ``score_frame`` adds (``score_arrow`` returns these after ``id``).
RESULT_COLUMNS = ["score", "mql", "disqualified", "route", "tags", "dimensions", "fired", "error"]


def as_pack(pack: Union[Pack, str, "os.PathLike[str]"], plugins=None) -> Pack:
    """A ``Pack``, or the pack folder at a path loaded with ``Pack.load(path, plugins)``."""
    if isinstance(pack, Pack):
        return pack
    if isinstance(pack, (str, os.PathLike)):
        return Pack.load(os.fspath(pack), plugins=plugins)
    raise TypeError(f"pack must be a leadscore.Pack or a pack folder's path, not {type(pack).__name__}")


def score_frame(df: Any, pack: Union[Pack, str, "os.PathLike[str]"], as_of: Any = None, id_field: str = "id",
                threads: Union[int, None] = None, as_of_field: Union[str, None] = None) -> Any:
    """The frame (pandas or Polars) with the result columns added, in the frame's own type.

    Columns are lead fields (dotted paths reach struct columns; a column named
    ``company.size`` is read as the field ``company.size`` too); ``events`` is a list of
    structs or a JSON string column. The frame's own columns of the result's names are
    replaced. Rows are scored as of ``as_of``, or each as of its own time in the column
    ``as_of_field``. A pandas object column of mixed types (numbers and strings, dicts)
    that Arrow cannot hold is read row by row as dicts are: a value that cannot be read
    is that row's ``error``.
    """
    pack = as_pack(pack)
    module = type(df).__module__.split(".")[0]
    if type(df).__name__ == "Series":
        raise TypeError("score_frame takes a DataFrame, not a Series (one column): pass series.to_frame()")
    if type(df).__name__ == "LazyFrame":
        raise TypeError("score_frame takes a DataFrame: call .collect() on a Polars LazyFrame first")
    if module == "polars":
        return _score_polars(df, pack, as_of, id_field, threads, as_of_field)
    if module == "pandas":
        return _score_pandas(df, pack, as_of, id_field, threads, as_of_field)
    raise TypeError(f"score_frame takes a pandas or Polars DataFrame, not {type(df).__module__}.{type(df).__name__}")


def _score_polars(df, pack, as_of, id_field, threads, as_of_field):
    import polars as pl

    results = pack.score_arrow(df, as_of, id_field=id_field, threads=threads, as_of_field=as_of_field)
    added = pl.from_arrow(results.select(RESULT_COLUMNS))
    return df.with_columns(added.get_columns())


def _score_pandas(df, pack, as_of, id_field, threads, as_of_field):
    _flat_columns(df)
    table = _pandas_table(df)
    if table is None:
        results = _score_rows(df, pack, as_of, id_field, threads, as_of_field)
    else:
        results = pack.score_arrow(table, as_of, id_field=id_field, threads=threads, as_of_field=as_of_field)
    out = df.copy()
    for name in RESULT_COLUMNS:
        out[name] = results.column(name).to_pandas().to_numpy()
    return out


def _flat_columns(df):
    if df.columns.nlevels > 1:
        raise ValueError("leadscore reads columns by name, and these are a MultiIndex (tuples); flatten them "
                         "first, e.g. df.columns = ['.'.join(map(str, c)) for c in df.columns]")


def _pandas_table(df):
    """The frame as a pyarrow Table, or ``None`` when a column holds values Arrow cannot
    put in one column (an object column of numbers and strings, say)."""
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return None


def _score_rows(df, pack, as_of, id_field, threads, as_of_field):
    """Results as ``score_arrow`` gives them, for a frame scored row by row as dicts."""
    leads = df.to_dict("records")
    if as_of_field is None:
        results = pack.score_many(leads, as_of, threads=threads, id_field=id_field)
    else:
        if as_of is not None:
            raise TypeError("give as_of (one time for every row) or as_of_field (a column of times), not both")
        results = [_score_at(pack, lead, as_of_field, id_field, number)
                   for number, lead in enumerate(leads, start=1)]
    return _results_table(results)


def _score_at(pack, lead, as_of_field, id_field, number):
    """One row scored as of its own time, or its error (as ``score_arrow`` words it)."""
    at = lead.get(as_of_field)
    if at is None or at != at:  # missing, or NaN/NaT
        return {"id": lead.get(id_field, number), "error": f"the lead has no `{as_of_field}` to judge it as of"}
    try:
        return pack.score(lead, at)
    except (ScoreError, ValueError, TypeError) as e:
        return {"id": lead.get(id_field, number), "error": str(e)}


def _results_table(results):
    import pyarrow as pa

    fired = pa.struct([("rule", pa.string()), ("points", pa.float64()), ("dimension", pa.string()),
                       ("location", pa.string())])

    def ok(r, f):
        return None if "error" in r else f(r)

    return pa.table({
        "score": pa.array([ok(r, lambda r: r["score"]) for r in results], pa.float64()),
        "mql": pa.array([ok(r, lambda r: r["mql"]) for r in results], pa.bool_()),
        "disqualified": pa.array([ok(r, lambda r: r["disqualified"]) for r in results], pa.string()),
        "route": pa.array([ok(r, lambda r: r["route"]) for r in results], pa.string()),
        "tags": pa.array([ok(r, lambda r: r["tags"]) for r in results], pa.list_(pa.string())),
        "dimensions": pa.array([ok(r, lambda r: list(r["dimensions"].items())) for r in results],
                               pa.map_(pa.string(), pa.float64())),
        "fired": pa.array([ok(r, lambda r: [{k: f[k] for k in ("rule", "points", "dimension", "location")}
                                            for f in r["fired"]]) for r in results], pa.list_(fired)),
        "error": pa.array([r.get("error") for r in results], pa.string()),
    })


def _leads(leads: Any) -> Any:
    """Leads as the outcome tools take them: a pandas frame as Arrow (or as dicts, when a
    column holds values Arrow cannot put in one column); anything else as it is."""
    if type(leads).__module__.split(".")[0] == "pandas" and type(leads).__name__ == "DataFrame":
        _flat_columns(leads)
        table = _pandas_table(leads)
        return leads.to_dict("records") if table is None else table
    if type(leads).__name__ == "LazyFrame":
        raise TypeError("call .collect() on a Polars LazyFrame first")
    return leads


def backtest(pack: Union[Pack, str, "os.PathLike[str]"], leads: Any, outcome: str, **options: Any) -> dict:
    """Does the pack predict which leads convert? The report ``leadscore backtest --json``
    prints, as a dict.

    ``leads``: dicts, a pyarrow Table, a pandas or Polars DataFrame. ``outcome``: the field
    holding each lead's outcome. Options (keywords, as the command's flags): ``as_of`` or
    ``as_of_field``, ``positive``/``negative`` (lists of values), ``bands``,
    ``min_precision`` or ``capacity`` or ``max_f1`` (the threshold's goal; none: the
    current MQL volume, as the command), ``by``, ``id_field``, ``threads``, ``html`` (a path
    to write the HTML report to).
    """
    return _native.backtest(as_pack(pack), _leads(leads), outcome, **options)


def fit(pack: Union[Pack, str, "os.PathLike[str]"], leads: Any, outcome: str, **options: Any) -> dict:
    """Points that fit the outcomes, as ``leadscore fit`` finds them: a dict with
    ``report`` (what ``--json`` prints), ``text`` (the report as text), ``files`` (the
    fitted pack's rule files, name to text) and ``pack`` (the fitted ``Pack``).

    Options (keywords, as the command's flags): ``as_of`` or ``as_of_field``,
    ``positive``/``negative``, ``holdout``, ``split_at``, ``seed``, ``min_fired``,
    ``penalty`` (``--lambda``), ``suggest``, ``allow_columns``, ``min_precision`` or
    ``capacity`` or ``max_f1``, ``decay`` (learn each dimension's half-life), ``id_field``,
    ``threads``, ``out_dir`` (the folder the report names).
    """
    return _native.fit(as_pack(pack), _leads(leads), outcome, **options)


def diff(a: Union[Pack, str, "os.PathLike[str]"], b: Union[Pack, str, "os.PathLike[str]"], leads: Any,
         **options: Any) -> dict:
    """The same leads scored by two packs: the report ``leadscore diff --json`` prints.

    Options: ``outcome``, ``as_of`` or ``as_of_field``, ``positive``/``negative``,
    ``id_field``, ``threads``.
    """
    return _native.diff(as_pack(a), as_pack(b), _leads(leads), **options)


def drift(pack: Union[Pack, str, "os.PathLike[str]"], baseline: Any, current: Any, **options: Any) -> dict:
    """Do the current leads still look like the baseline? The report ``leadscore drift
    --json`` prints (``psi`` at the top).

    Options: ``as_of`` or ``as_of_field``, ``id_field``, ``threads``, ``names`` (what the
    report calls the two sides, by default ``("baseline", "current")``), ``html``.
    """
    return _native.drift(as_pack(pack), _leads(baseline), _leads(current), **options)


def frame(rows: Any, kind: str = "pandas") -> Any:
    """A list of dicts from a report (``report["bands"]``, ``report["rules"]``, ...) as a
    pandas (``kind="pandas"``) or Polars (``kind="polars"``) DataFrame."""
    if kind == "pandas":
        import pandas as pd

        return pd.DataFrame(rows)
    if kind == "polars":
        import polars as pl

        return pl.DataFrame(rows)
    raise ValueError(f"kind must be \"pandas\" or \"polars\", not {kind!r}")
