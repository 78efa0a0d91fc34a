"""Type stubs of the native module (``python/src/lib.rs``); ``leadscore`` re-exports these."""

from __future__ import annotations

import datetime
import os
from typing import Any, Iterable, Optional, Sequence, Union

import pyarrow

#: ``as_of``: an aware ``datetime`` or an RFC 3339 string (a naive ``datetime`` is an error).
AsOf = Union[datetime.datetime, str]

class PackError(ValueError):
    """A pack that does not check: the message is every error, as ``leadscore check`` prints them."""

    #: Each error as ``(file, line, column, message)``.
    errors: list[tuple[str, int, int, str]]

class ScoreError(ValueError):
    """A lead that cannot be scored (``Pack.score``, ``Pack.explain``)."""

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
    def score_arrow(
        self, data: Any, as_of: AsOf, id_field: str = "id", threads: Optional[int] = None
    ) -> pyarrow.Table: ...
    def arrow_refusal(self, data: Any) -> Optional[str]: ...

def as_of_text(as_of: AsOf) -> str:
    """``as_of`` checked and written as RFC 3339 in UTC."""

