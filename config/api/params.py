"""Query parameters shared by several views."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.request import Request

# Numbered histories (FileRevision.number, PageVersion.number) are PostgreSQL integers:
# a larger number reached SQL inside `number IN (...)` and failed there (a 500 the fuzzer
# found twice). None can exist, so the request is refused before the query.
MAX_HISTORY_NUMBER = 2**31 - 1


def history_range_parameters(noun: str) -> list[OpenApiParameter]:
    """The OpenAPI description of ``?from=&to=`` (see :func:`history_range`)."""
    return [
        OpenApiParameter("from", OpenApiTypes.INT, required=True, description=f"Old {noun}."),
        OpenApiParameter("to", OpenApiTypes.INT, required=True, description=f"New {noun}."),
    ]


def history_range(request: Request, noun: str) -> tuple[int, int]:
    """Two numbers of a numbered history from ``?from=&to=``: a 400 naming each missing
    or bad one (each is between 1 and :data:`MAX_HISTORY_NUMBER`)."""
    numbers, errors = {}, {}
    for name in ("from", "to"):
        try:
            numbers[name] = int(request.query_params.get(name) or "")
        except ValueError:
            numbers[name] = 0
        if not 1 <= numbers[name] <= MAX_HISTORY_NUMBER:
            errors[name] = [f"A {noun} number between 1 and {MAX_HISTORY_NUMBER} is required."]
    if errors:
        raise exceptions.ValidationError(errors)
    return numbers["from"], numbers["to"]
