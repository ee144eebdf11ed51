"""Serializer base classes shared by every app's API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.errors import invalid_choice_message


def list_valid_choices(field: serializers.Field) -> None:
    """Make an invalid choice of ``field`` (a ``ChoiceField``, or a list or dict of them)
    name the valid values: ``"boss" is not a valid choice; valid: owner, admin, ...``
    instead of DRF's bare ``"boss" is not a valid choice.``"""
    child = getattr(field, "child", None)
    if child is not None:
        list_valid_choices(child)
    if isinstance(field, serializers.ChoiceField) and not field.read_only:
        # DRF formats the message with ``input``: braces of the values are escaped.
        valid = (str(choice).replace("{", "{{").replace("}", "}}") for choice in field.choices)
        field.error_messages["invalid_choice"] = invalid_choice_message("{input}", valid)


class StrictInputMixin:
    """Reject fields the serializer does not declare as writable, and list the valid
    values of a choice field in its error.

    DRF ignores unknown keys by default, so a typo (``"rol"``) or an attempt at
    mass assignment (``"is_staff"``) would silently do nothing; we answer 400.
    """

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()  # type: ignore[misc]
        for field in fields.values():
            list_valid_choices(field)
        return fields

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
