"""List filtering: django-filter, skipped when a request names no filter.

Binding a FilterSet builds and validates a Django form on every request, the
largest single cost of an unfiltered list after the query itself (profiled in
``bench/``). Most list requests name no filter, so :class:`FilterBackend`
applies only the FilterSet's :meth:`FilterSet.apply_defaults` then.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request


class FilterSet(django_filters.FilterSet):
    """Base of every API FilterSet."""

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
        for attribute in ("ordering_param", "search_param"):
            name = getattr(backend, attribute, None)
            if name:
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
