"""calculate_total_cost: a pure function; expected totals worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.costs import calculate_total_cost
from config.errors import Invalid


def test_half_up_rounding_at_each_step():
    # 1 * 0.005 = 0.005 -> 0.01 (half up, not banker's 0.00); tax 50% of 0.01 = 0.005 -> 0.01
    result = calculate_total_cost(items=[{"quantity": 1, "unit_price": "0.005"}], tax_percent=50)
    assert (result.subtotal, result.tax, result.total) == (
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal("0.02"),
    )


def test_floats_are_read_as_written_not_as_binary():
    result = calculate_total_cost(items=[{"quantity": 3, "unit_price": 0.1}])
    assert result.total == Decimal("0.30")


def test_full_discount_leaves_nothing_to_tax():
    result = calculate_total_cost(
        items=[{"quantity": 2, "unit_price": "9.99"}], discount_percent=100, tax_percent=20
    )
    assert (result.subtotal, result.discount, result.tax, result.total) == (
        Decimal("19.98"),
        Decimal("19.98"),
        Decimal("0.00"),
        Decimal("0.00"),
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"items": []},
        {"items": [{"quantity": -1, "unit_price": 1}]},
        {"items": [{"quantity": 1, "unit_price": "NaN"}]},
        {"items": [{"quantity": 1, "unit_price": "abc"}]},
        {"items": [{"quantity": 1, "unit_price": 1}], "discount_percent": 101},
    ],
)
def test_bad_inputs_are_refused(kwargs):
    with pytest.raises(Invalid):
        calculate_total_cost(**kwargs)
