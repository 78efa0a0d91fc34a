"""Type stubs of the native module (``python/src/lib.rs``); ``leadscore`` re-exports these."""

from __future__ import annotations

import datetime
import os
from typing import Any, Iterable, Iterator, Optional, Sequence, Union

import pyarrow

#: ``as_of``: an aware ``datetime`` or an RFC 3339 string (a naive ``datetime`` is an error).
AsOf = Union[datetime.datetime, str]

class PackError(ValueError):
    """A pack that does not check: the message is every error, as ``leadscore check`` prints them."""

    #: Each error as ``(file, line, column, message)``.
    errors: list[tuple[str, int, int, str]]
    #: Each error as a dict: ``file``, ``line``, ``column``, ``message``, ``layer``
    #: (``"parse"``, ``"plugin"`` or ``"check"``), ``code`` (the kind, e.g.
    #: ``"unknown_dimension"``) and ``help`` (a hint, or ``None``).
    details: list[dict[str, object]]

class ScoreError(ValueError):
    """A lead that cannot be scored (``Pack.score``, ``Pack.explain``)."""

    #: The kind, as the core names it (``"bad_event"``, ``"plugin"``, ``"not_a_bool"``,
    #: ...), or ``"not_json"`` for a value with no JSON form.
    code: str

class InternalError(RuntimeError):
    """A bug inside leadscore (a panic caught at the module's edge): the call failed, the process goes on."""

class Pack:
    """A compiled rule pack. Build one with ``Pack.load(path)`` or ``Pack.from_source(name, text)``."""

    @staticmethod
    def load(path: Union[str, "os.PathLike[str]"], plugins: Optional[Sequence[Union[str, "os.PathLike[str]"]]] = None) -> Pack: ...
    @staticmethod
    def from_source(name: str, text: str, plugins: Optional[Sequence[Union[str, "os.PathLike[str]"]]] = None) -> Pack: ...
    @staticmethod
    def from_texts(name: str, sources: Sequence[tuple[str, str]], plugins: Sequence[tuple[str, str]]) -> Pack: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def sources(self) -> list[tuple[str, str]]: ...
    @property
    def plugin_sources(self) -> list[tuple[str, str]]: ...
    def score(self, lead: dict[str, Any], as_of: AsOf) -> dict[str, Any]: ...
    def explain(self, lead: dict[str, Any], as_of: AsOf) -> str: ...
    def score_many(
        self, leads: Iterable[dict[str, Any]], as_of: AsOf, threads: Optional[int] = None, id_field: str = "id"
    ) -> list[dict[str, Any]]: ...
    def score_chunks(
        self,
        leads: Iterable[dict[str, Any]],
        as_of: AsOf,
        threads: Optional[int] = None,
        id_field: str = "id",
        chunk_size: Optional[int] = None,
    ) -> ScoreChunks: ...
    def score_arrow(
        self,
        data: Any,
        as_of: Optional[AsOf] = None,
        id_field: str = "id",
        threads: Optional[int] = None,
        as_of_field: Optional[str] = None,
    ) -> pyarrow.Table: ...
    def arrow_refusal(self, data: Any) -> Optional[str]: ...

class ScoreChunks(Iterator[list[dict[str, Any]]]):
    """``Pack.score_chunks``: lists of result dicts, a chunk of leads at a time, in input order."""

    def __iter__(self) -> ScoreChunks: ...
    def __next__(self) -> list[dict[str, Any]]: ...

def backtest(
    pack: Pack,
    leads: Any,
    outcome: str,
    *,
    as_of: Optional[AsOf] = None,
    as_of_field: Optional[str] = None,
    positive: Optional[Sequence[str]] = None,
    negative: Optional[Sequence[str]] = None,
    bands: int = 10,
    min_precision: Optional[float] = None,
    capacity: Optional[float] = None,
    max_f1: bool = False,
    by: Optional[str] = None,
    id_field: str = "id",
    threads: Optional[int] = None,
    html: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> dict[str, Any]: ...
def fit(
    pack: Pack,
    leads: Any,
    outcome: str,
    *,
    as_of: Optional[AsOf] = None,
    as_of_field: Optional[str] = None,
    positive: Optional[Sequence[str]] = None,
    negative: Optional[Sequence[str]] = None,
    holdout: float = 0.3,
    split_at: Optional[AsOf] = None,
    seed: int = 1,
    min_fired: int = 30,
    penalty: float = 1.0,
    suggest: int = 0,
    allow_columns: Sequence[str] = (),
    min_precision: Optional[float] = None,
    capacity: Optional[float] = None,
    max_f1: bool = False,
    decay: bool = False,
    id_field: str = "id",
    threads: Optional[int] = None,
    out_dir: str = "fitted",
) -> dict[str, Any]: ...
def diff(
    a: Pack,
    b: Pack,
    leads: Any,
    *,
    outcome: Optional[str] = None,
    as_of: Optional[AsOf] = None,
    as_of_field: Optional[str] = None,
    positive: Optional[Sequence[str]] = None,
    negative: Optional[Sequence[str]] = None,
    id_field: str = "id",
    threads: Optional[int] = None,
) -> dict[str, Any]: ...
def drift(
    pack: Pack,
    baseline: Any,
    current: Any,
    *,
    as_of: Optional[AsOf] = None,
    as_of_field: Optional[str] = None,
    id_field: str = "id",
    threads: Optional[int] = None,
    names: tuple[str, str] = ("baseline", "current"),
    html: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> dict[str, Any]: ...
def as_of_text(as_of: AsOf) -> str:
    """``as_of`` checked and written as RFC 3339 in UTC."""

