"""Lead scoring as code, from Python.

The same packs and the same results as the ``leadscore`` command line: ``Pack.load`` a
pack folder (or ``Pack.from_source``), then score a dict (``score``), many dicts in
parallel (``score_many``), Arrow data (``score_arrow``), a pandas or Polars frame
(``score_frame``) or a PySpark DataFrame (``leadscore.spark.score``).
"""

from __future__ import annotations

import os
from typing import Any, Union

from ._native import InternalError, Pack, PackError, ScoreError

__all__ = ["Pack", "PackError", "ScoreError", "InternalError", "score_frame", "as_pack"]

#: The columns ``score_frame`` adds (``score_arrow`` returns these after ``id``).
RESULT_COLUMNS = ["score", "mql", "disqualified", "route", "tags", "dimensions", "fired", "error"]


def as_pack(pack: Union[Pack, str, "os.PathLike[str]"], plugins=None) -> Pack:
    """A ``Pack``, or the pack folder at a path loaded with ``Pack.load(path, plugins)``."""
    if isinstance(pack, Pack):
        return pack
    if isinstance(pack, (str, os.PathLike)):
        return Pack.load(os.fspath(pack), plugins=plugins)
    raise TypeError(f"pack must be a leadscore.Pack or a pack folder's path, not {type(pack).__name__}")


def score_frame(df: Any, pack: Union[Pack, str, "os.PathLike[str]"], as_of: Any, id_field: str = "id",
                threads: Union[int, None] = None) -> Any:
    """The frame (pandas or Polars) with the result columns added, in the frame's own type.

    Columns are lead fields (dotted paths reach struct columns; a column named
    ``company.size`` is read as the field ``company.size`` too); ``events`` is a list of
    structs or a JSON string column. The frame's own columns of the result's names are
    replaced.
    """
    pack = as_pack(pack)
    module = type(df).__module__.split(".")[0]
    if type(df).__name__ == "Series":
        raise TypeError("score_frame takes a DataFrame, not a Series (one column): pass series.to_frame()")
    if type(df).__name__ == "LazyFrame":
        raise TypeError("score_frame takes a DataFrame: call .collect() on a Polars LazyFrame first")
    if module == "polars":
        return _score_polars(df, pack, as_of, id_field, threads)
    if module == "pandas":
        return _score_pandas(df, pack, as_of, id_field, threads)
    raise TypeError(f"score_frame takes a pandas or Polars DataFrame, not {type(df).__module__}.{type(df).__name__}")


def _score_polars(df, pack, as_of, id_field, threads):
    import polars as pl

    results = pack.score_arrow(df, as_of, id_field=id_field, threads=threads)
    added = pl.from_arrow(results.select(RESULT_COLUMNS))
    return df.with_columns(added.get_columns())


def _score_pandas(df, pack, as_of, id_field, threads):
    import pyarrow as pa

    if df.columns.nlevels > 1:
        raise ValueError("score_frame reads columns by name, and these are a MultiIndex (tuples); flatten them "
                         "first, e.g. df.columns = ['.'.join(map(str, c)) for c in df.columns]")

    table = pa.Table.from_pandas(df, preserve_index=False)
    results = pack.score_arrow(table, as_of, id_field=id_field, threads=threads)
    out = df.copy()
    for name in RESULT_COLUMNS:
        out[name] = results.column(name).to_pandas().to_numpy()
    return out
