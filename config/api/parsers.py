"""The API's JSON parser: DRF's, refusing what PostgreSQL cannot store.

PostgreSQL's ``text`` and ``jsonb`` cannot hold the NUL character: a ``"\\u0000"``
anywhere in a JSON body (a key or a string value, at any depth) reached the database
inside a ``JSONField`` and failed there with a ``DataError`` - a 500 found by fuzzing
(``tests/system/test_fuzz.py``). Text fields already refuse NUL in their validators;
refusing it when the body is parsed closes the class for every JSON input, present and
future, with a 400 ``parse_error``. Bodies nested too deep for Python's parser get the
same answer instead of a ``RecursionError``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


def contains_nul(data: Any) -> bool:
    """Whether any string (or key) in parsed JSON contains U+0000. Iterative: any depth."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
        if contains_nul(data):
            raise ParseError("JSON parse error - text cannot contain the NUL character (\\u0000).")
        return data
