"""JSON rendered by orjson: the same documents as DRF's ``JSONRenderer``, several
times faster to encode (measured in ``bench/``; see ``docs/performance.md``)."""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder().default  # Decimal, lazy translations, generators, ...


class ORJSONRenderer(JSONRenderer):
    """Compact UTF-8 JSON. Values orjson does not know natively go through DRF's
    encoder; datetimes (from ``.values()`` rows) come out as ISO 8601 with ``Z``,
    like DRF's ``DateTimeField`` renders them in UTC."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        try:
            # Non-string keys: DRF reports errors of list items keyed by their index.
            return orjson.dumps(
                data, default=_fallback, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
            )
        except TypeError:
            # An integer past 64 bits, which orjson refuses. The parser refuses them, but
            # jsonb hands a stored 1e30 back as the integer 10**30 (a 500 found by the
            # fuzzer): DRF's encoder writes it exactly, the same document, only slower.
            return super().render(data, accepted_media_type, renderer_context)
