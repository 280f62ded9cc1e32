"""Money is an integer number of fen (分, 1/100 yuan). Never a float.

Every amount has a domain bound, in its schema (a 422 naming the field) and in a CHECK constraint of its
column. The bounds here are the ones several services share; each is generous on purpose (a bound that
refused a real figure could keep someone from help) and far below what a 64-bit column holds
(2**63 - 1 fen, about 9.2e16 yuan), so that sums of many bounded amounts stay exact: a total of
100 million amounts at MAX_PAYMENT_FEN is 1e18 fen, still under 2**63.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import Field

YUAN = 100  # fen

# One payment or gift: a donation, a refund of one, one line of a payroll batch.
MAX_PAYMENT_FEN = 100_000_000 * YUAN  # 100 million yuan
# A fund or a plan: a project's target and budget lines, a disbursement, a trust's or community fund's scale,
# an in-kind gift's value (equity and securities may be large).
MAX_FUND_FEN = 100_000_000_000 * YUAN  # 100 billion yuan
# A person's or household's monthly income (or monthly expense), as assessed for assistance.
MAX_MONTHLY_INCOME_FEN = 10_000_000 * YUAN  # 10 million yuan a month
# An income received, or medical expenses paid, over a period of up to 12 months.
MAX_PERIOD_INCOME_FEN = 12 * MAX_MONTHLY_INCOME_FEN
# One bill a partner department reports (a medical bill): a 4-byte integer column holds it.
MAX_BILL_FEN = 10_000_000 * YUAN  # 10 million yuan
# One asset's value (deposits, securities, a vehicle, property): assets only make a household ineligible
# above a line, so a generous bound refuses no real household.
MAX_ASSET_FEN = 10_000_000_000 * YUAN  # 10 billion yuan
# A price of one item of a service (a home visit, a meal), or a subsidy of one.
MAX_PRICE_FEN = 10_000 * YUAN  # 10,000 yuan
# A benefit per month to one person or household: an allowance, a grant (低保 for a large household included).
MAX_BENEFIT_FEN = 100_000 * YUAN  # 100,000 yuan a month
# The running balance of a person's benefit account (eldercare's subsidy account), and one adjustment of it:
# 83 years of the largest benefit. A total kept on a row is bounded, so adding to it never overflows.
MAX_BALANCE_FEN = MAX_PAYMENT_FEN  # 100 million yuan
# Counts of people or things (beneficiaries, quantities of goods): a city of 10 million, a hundred times over.
MAX_COUNT = 1_000_000_000


def format_yuan(fen: int) -> str:
    """1234567 -> '¥12,345.67' (for display only)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def fen(description: str, *, maximum: int, minimum: int = 0, **field: Any) -> Any:
    """The Field of an amount in fen within [minimum, maximum], its bound stated in its description."""
    bound = f"{minimum:,} to {maximum:,} fen" + (f" (at most {format_yuan(maximum)})" if maximum >= YUAN else "")
    return Field(
        strict=True, ge=minimum, le=maximum, description=f"{description.rstrip('. ')}. In fen (分): {bound}.", **field
    )


def count(description: str, *, maximum: int, minimum: int = 0, **field: Any) -> Any:
    """The Field of a count (people, items, places) within [minimum, maximum], its bound in its description."""
    return Field(
        strict=True,
        ge=minimum,
        le=maximum,
        description=f"{description.rstrip('. ')}. {minimum:,} to {maximum:,}.",
        **field,
    )


Fen = Annotated[int, Field(strict=True, description="Amount in fen (分): 1 yuan = 100 fen")]


def yuan_to_fen(yuan: str | int | Decimal) -> int:
    """Exact conversion from a yuan amount written as text ('1100.50') or a Decimal; rounds half up."""
    try:
        amount = Decimal(str(yuan))
    except InvalidOperation:
        raise ValueError(f"not an amount: {yuan!r}") from None
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
