"""Money is an integer number of fen (分, 1/100 yuan). Never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated

from pydantic import Field

Fen = Annotated[int, Field(strict=True, description="Amount in fen (分): 1 yuan = 100 fen")]
NonNegativeFen = Annotated[int, Field(strict=True, ge=0, description="Amount in fen (分), zero or more")]
PositiveFen = Annotated[int, Field(strict=True, gt=0, description="Amount in fen (分), more than zero")]


def yuan_to_fen(yuan: str | int | Decimal) -> int:
    """Exact conversion from a yuan amount written as text ('1100.50') or a Decimal; rounds half up."""
    try:
        amount = Decimal(str(yuan))
    except InvalidOperation:
        raise ValueError(f"not an amount: {yuan!r}") from None
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def format_yuan(fen: int) -> str:
    """1234567 -> '¥12,345.67' (for display only)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"
