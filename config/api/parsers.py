"""The API's JSON parser: DRF's, refusing what PostgreSQL cannot store.

PostgreSQL's ``text`` and ``jsonb`` cannot hold the NUL character: a ``"\\u0000"``
anywhere in a JSON body (a key or a string value, at any depth) reached the database
inside a ``JSONField`` and failed there with a ``DataError`` - a 500 found by fuzzing
(``tests/system/test_fuzz.py``). Text fields already refuse NUL in their validators;
refusing it when the body is parsed closes the class for every JSON input, present and
future, with the 400 ``validation_error`` a text field gives (naming the top-level field
that holds it). Bodies nested too deep for Python's parser get a 400 ``parse_error``
instead of a ``RecursionError``. A lone surrogate (``"\\ud800"``: valid JSON, not valid
Unicode) is refused the same way; PostgreSQL's ``jsonb`` rejects it (a ``DataError``,
another 500 of the same class).
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

NUL_MESSAGE = "Null characters are not allowed."  # DRF's own words for its text fields
BIG_INTEGER_MESSAGE = "Integers must fit in 64 bits."
INT64 = range(-(2**63), 2**63)
# json.loads joins a valid surrogate pair into one character: any left is alone.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable(data: Any) -> str | None:
    """Why parsed JSON cannot be stored and answered, or ``None``. Iterative: any depth.

    PostgreSQL's ``text`` and ``jsonb`` cannot hold U+0000 or a lone surrogate (in a
    value or a key), and
    an integer past 64 bits would be stored but could not be rendered back (orjson,
    like most JSON peers, stops at 64 bits: I-JSON, RFC 7493)."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return NUL_MESSAGE
            if found := LONE_SURROGATE.search(item):
                # DRF's own words for its text fields
                return f"Surrogate characters are not allowed: U+{ord(found.group()):X}."
        elif isinstance(item, int) and not isinstance(item, bool):
            if item not in INT64:
                return BIG_INTEGER_MESSAGE
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
        if isinstance(data, dict):
            fields = {}
            for key, value in data.items():
                problem = unstorable(value)
                if unstorable(key):
                    fields["non_field_errors"] = [unstorable(key)]
                elif problem:
                    fields[str(key)] = [problem]
            if fields:
                raise ValidationError(fields)
        elif problem := unstorable(data):
            raise ValidationError({"non_field_errors": [problem]})
        return data
