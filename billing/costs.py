"""``calculate_total_cost``: a pure function (no database, no clock), Decimal throughout.

Formula ``2026-12.1``:

* each line: ``amount = round(quantity * unit_price, 2)``;
* ``subtotal = sum of the amounts``;
* ``discount = round(subtotal * discount_percent / 100, 2)``;
* ``tax = round((subtotal - discount) * tax_percent / 100, 2)``;
* ``total = subtotal - discount + tax``.

Rounding is half-up to the cent at each step shown, so a stored estimate can be
recomputed by hand. The version is stored with each estimate; a new formula
gets a new version and old estimates keep theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from config.errors import Invalid

FORMULA_VERSION = "2026-12.1"
CENT = Decimal("0.01")
MAX_ITEMS = 100


@dataclass(frozen=True)
class CostResult:
    line_items: list[dict[str, Any]]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    currency: str
    formula_version: str = FORMULA_VERSION


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # never the binary float: 0.1 stays 0.1
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Invalid("Not a number.", details={field: ["Not a number."]}) from None
    if not number.is_finite() or number < 0:
        raise Invalid("Must be a finite number ≥ 0.", details={field: ["Must be ≥ 0."]})
    return number


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def calculate_total_cost(
    *,
    items: list[dict[str, Any]],
    currency: str = "USD",
    discount_percent: Any = 0,
    tax_percent: Any = 0,
) -> CostResult:
    """Total of ``items`` (``description``, ``quantity``, ``unit_price``) after a
    percentage discount and a percentage tax."""
    if not items or len(items) > MAX_ITEMS:
        raise Invalid(f"Give 1 to {MAX_ITEMS} items.", details={"items": ["1 to 100 items."]})
    discount_rate = _decimal(discount_percent, "discount_percent")
    tax_rate = _decimal(tax_percent, "tax_percent")
    if discount_rate > 100:
        raise Invalid("A discount cannot pass 100%.", details={"discount_percent": ["≤ 100."]})
    lines = []
    for index, item in enumerate(items):
        quantity = _decimal(item.get("quantity", 1), f"items[{index}].quantity")
        unit_price = _decimal(item.get("unit_price"), f"items[{index}].unit_price")
        lines.append(
            {
                "description": str(item.get("description", ""))[:200],
                "quantity": quantity,
                "unit_price": unit_price,
                "amount": _cents(quantity * unit_price),
            }
        )
    subtotal = sum((line["amount"] for line in lines), Decimal("0.00"))
    discount = _cents(subtotal * discount_rate / 100)
    tax = _cents((subtotal - discount) * tax_rate / 100)
    return CostResult(
        line_items=lines,
        subtotal=subtotal,
        discount=discount,
        tax=tax,
        total=subtotal - discount + tax,
        currency=currency.upper()[:3],
    )
