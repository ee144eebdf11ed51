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
