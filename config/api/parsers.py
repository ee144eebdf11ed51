"""The API's JSON parser: DRF's, refusing what PostgreSQL cannot store.

PostgreSQL's ``text`` and ``jsonb`` cannot hold the NUL character: a ``"\\u0000"``
anywhere in a JSON body (a key or a string value, at any depth) reached the database
inside a ``JSONField`` and failed there with a ``DataError`` - a 500 found by fuzzing
(``tests/system/test_fuzz.py``). Text fields already refuse NUL in their validators;
refusing it when the body is parsed closes the class for every JSON input, present and
future, with the 400 ``validation_error`` a text field gives (naming the top-level field
that holds it). Bodies nested too deep for Python's parser get a 400 ``parse_error``
instead of a ``RecursionError``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

NUL_MESSAGE = "Null characters are not allowed."  # DRF's own words for its text fields


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
        if isinstance(data, dict):
            fields = {
                str(key) if not contains_nul(key) else "non_field_errors": [NUL_MESSAGE]
                for key, value in data.items()
                if contains_nul(key) or contains_nul(value)
            }
            if fields:
                raise ValidationError(fields)
        elif contains_nul(data):
            raise ValidationError({"non_field_errors": [NUL_MESSAGE]})
        return data
