"""Serializer base classes shared by every app's API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictInputMixin:
    """Reject fields the serializer does not declare as writable.

    DRF ignores unknown keys by default, so a typo (``"rol"``) or an attempt at
    mass assignment (``"is_staff"``) would silently do nothing; we answer 400.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class InputSerializer(StrictInputMixin, serializers.Serializer):
    """Base for request bodies: strict about unknown fields."""


def validated(serializer_class: type[serializers.Serializer], request: Any) -> dict[str, Any]:
    """The request body, validated by ``serializer_class`` (400 in the error shape if not)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
