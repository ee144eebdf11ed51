"""List filtering, searching and ordering: the three filter backends of every list.

- :class:`FilterBackend`: django-filter, skipped when a request names no filter.
  Binding a FilterSet builds and validates a Django form on every request, the
  largest single cost of an unfiltered list after the query itself (profiled in
  ``bench/``). Most list requests name no filter, so it applies only the
  FilterSet's :meth:`FilterSet.apply_defaults` then.
- :class:`SearchFilter`: ``?search=`` over the view's ``search_fields``.
- :class:`OrderingFilter`: ``?ordering=field`` or ``-field`` over the view's
  ``ordering_fields``, kept compatible with cursor pagination.

Search and ordering apply to list views only (``ListModelMixin``): a detail view's
``get_object`` also runs the filter backends, and must not read list parameters.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import F, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters, mixins
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from config.errors import invalid_choice_message

SEARCH_MAX_LENGTH = 200


class FilterSet(django_filters.FilterSet):
    """Base of every API FilterSet: an invalid choice names the valid values, as a
    body's does (``config.api.serializers.list_valid_choices``)."""

    @property
    def form(self) -> forms.Form:
        if not hasattr(self, "_form"):
            form = super().form
            for field in form.fields.values():
                # A model choice would list (and query) the rows: left as it is.
                if isinstance(field, forms.ChoiceField) and not isinstance(
                    field, forms.ModelChoiceField
                ):
                    # Django formats the message with %(value)s: escape the values' %.
                    valid = (
                        str(value).replace("%", "%%") for value, _ in field.choices if value != ""
                    )
                    field.error_messages["invalid_choice"] = invalid_choice_message(
                        "%(value)s", valid
                    )
        return self._form

    @classmethod
    def apply_defaults(cls, queryset: QuerySet) -> QuerySet:
        """What a request gets when it names none of the filters (e.g. archived rows
        left out). Override it and call it from ``filter_queryset`` for the filters left
        unset, so both paths share one definition."""
        return queryset


class FilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        filterset_class = self.get_filterset_class(view, queryset)
        if (
            filterset_class is not None
            and issubclass(filterset_class, FilterSet)
            and request.query_params.keys().isdisjoint(filterset_class.base_filters)
        ):
            return filterset_class.apply_defaults(queryset)
        return super().filter_queryset(request, queryset, view)


def _is_list(view: Any) -> bool:
    return isinstance(view, mixins.ListModelMixin)


class SearchFilter(filters.SearchFilter):
    """``?search=words``: rows where every word is contained (case-insensitive) in one
    of the view's ``search_fields`` (e.g. ``("user__email", "user__name")``). A list
    without ``search_fields`` does not know the parameter (a 400, like any unknown one)."""

    search_param = "search"

    def applies_to(self, view: Any) -> bool:
        return _is_list(view) and bool(getattr(view, "search_fields", None))

    def get_search_terms(self, request: Request) -> list[str]:
        value = request.query_params.get(self.search_param, "")
        # Text PostgreSQL cannot hold would fail in the query (a 500): refused here,
        # naming the parameter, as a body field would be.
        if "\x00" in value or len(value) > SEARCH_MAX_LENGTH:
            raise ValidationError(
                {
                    self.search_param: [
                        f"At most {SEARCH_MAX_LENGTH} characters, without NUL characters."
                    ]
                }
            )
        return list(filters.search_smart_split(value))

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        if not self.applies_to(view):
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        if not self.applies_to(view):
            return []
        fields = ", ".join(f.lstrip("^=@$").replace("__", ".") for f in view.search_fields)
        return [
            {
                "name": self.search_param,
                "required": False,
                "in": "query",
                "description": (
                    f"Words that must each appear (case-insensitive) in one of: {fields}."
                ),
                "schema": {"type": "string", "maxLength": SEARCH_MAX_LENGTH},
            }
        ]


def ordering_fields(view: Any) -> dict[str, str | F]:
    """The orderings a list offers: its ``ordering_fields`` (a tuple of column names, or
    a dict of public name -> column name or ``F()`` expression), else the first field of
    its paginator's default ordering (``created_at`` for most lists).

    A column must be on the row itself and never NULL: DRF's cursor keeps the value of
    the first ordering field of the page's last row (``tests/api/test_list_ordering.py``
    walks every offered ordering of every org list)."""
    declared = getattr(view, "ordering_fields", None)
    if declared is None:
        default = view.paginator.ordering
        declared = ((default if isinstance(default, str) else default[0]).lstrip("-"),)
    if isinstance(declared, dict):
        return dict(declared)
    return {name: name for name in declared}


def ordering_choices(view: Any) -> list[str]:
    return [choice for name in ordering_fields(view) for choice in (name, f"-{name}")]


class OrderingFilter(filters.BaseFilterBackend):
    """``?ordering=name`` (ascending) or ``?ordering=-name`` (descending), one of the
    list's :func:`ordering_fields`; anything else is a 400 listing them. Without it, the
    paginator's default ordering holds.

    Cursor pagination is kept: :class:`config.api.pagination.CursorPagination` asks
    :meth:`get_ordering`, which appends ``id`` in the same direction, so rows that tie
    on the field keep one stable order and the cursor (the last row's value plus an
    offset among its ties) points at one place."""

    ordering_param = "ordering"

    def applies_to(self, view: Any) -> bool:
        return _is_list(view)

    def get_ordering(
        self, request: Request, queryset: QuerySet, view: Any
    ) -> tuple[str, ...] | None:
        if not self.applies_to(view):
            return None
        raw = request.query_params.get(self.ordering_param)
        if raw is None:
            return None
        fields = ordering_fields(view)
        name = raw.strip()
        descending = name.startswith("-")
        column = fields.get(name.removeprefix("-"))
        if column is None:
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Unknown ordering {raw!r}; one of: {', '.join(ordering_choices(view))}."
                    ]
                }
            )
        if not isinstance(column, str):
            column = _annotation(name.removeprefix("-"))
        sign = "-" if descending else ""
        return (f"{sign}{column}", f"{sign}id") if column != "id" else (f"{sign}id",)

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        ordering = self.get_ordering(request, queryset, view)
        if ordering is None:
            return queryset
        name = request.query_params[self.ordering_param].strip().removeprefix("-")
        expression = ordering_fields(view)[name]
        if not isinstance(expression, str):
            queryset = queryset.annotate(**{_annotation(name): expression})
        return queryset.order_by(*ordering)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        if not self.applies_to(view):
            return []
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": (
                    "Sort by this field, ascending, or descending with a leading `-`; "
                    "ties are broken by `id`. Default: the list's documented order."
                ),
                "schema": {"type": "string", "enum": ordering_choices(view)},
            }
        ]


def _annotation(name: str) -> str:
    return f"ordering_{name}"


_ALLOWED_PARAMS: dict[type, frozenset[str]] = {}


def refuse_unknown_query_params(view: Any, request: Request) -> None:
    """400 in the error shape for a query parameter the list does not understand, as
    for an unknown body field: a typo (``?rol=admin``) would otherwise silently list
    everything."""
    unknown = set(request.query_params) - allowed_query_params(view)
    if unknown:
        raise ValidationError({name: ["Unknown query parameter."] for name in sorted(unknown)})


def allowed_query_params(view: Any) -> frozenset[str]:
    """The query parameters a list view understands: its FilterSet's (with the suffixes
    of range widgets, e.g. ``created_after``/``created_before``), the paginator's,
    the ordering/search parameters of its filter backends and the view's own
    ``extra_query_params``. Computed once per view class."""
    cls = type(view)
    cached = _ALLOWED_PARAMS.get(cls)
    if cached is not None:
        return cached
    allowed = set(getattr(view, "extra_query_params", ()))
    paginator = view.paginator
    for attribute in ("cursor_query_param", "page_size_query_param", "page_query_param"):
        name = getattr(paginator, attribute, None)
        if name:
            allowed.add(name)
    for backend_class in view.filter_backends:
        backend = backend_class()
        applies_to = getattr(backend, "applies_to", None)
        for attribute in ("ordering_param", "search_param"):
            name = getattr(backend, attribute, None)
            if name and (applies_to is None or applies_to(view)):
                allowed.add(name)
        if isinstance(backend, DjangoFilterBackend) and (
            getattr(view, "filterset_class", None) or getattr(view, "filterset_fields", None)
        ):
            queryset = view.queryset if view.queryset is not None else view.get_queryset()
            filterset_class = backend.get_filterset_class(view, queryset)
            if filterset_class is not None:
                allowed |= _filterset_params(filterset_class)
    _ALLOWED_PARAMS[cls] = result = frozenset(allowed)
    return result


def _filterset_params(filterset_class: type[django_filters.FilterSet]) -> set[str]:
    names = set()
    for name, filter_ in filterset_class.base_filters.items():
        suffixes = getattr(filter_.field.widget, "suffixes", None)
        if suffixes:
            names |= {f"{name}_{suffix}" if suffix else name for suffix in suffixes}
        else:
            names.add(name)
    return names
