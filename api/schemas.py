"""The API's shared shapes: the checked field types every router's input uses (ids, bounded
text lines, sane moments, money), the one error body, and paging. Resource schemas live with
their router in api/routers/.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("null character")
    return value


def _no_epoch_number(value: Any) -> Any:
    """A moment is written as a date and time (ISO 8601), never as a bare number: pydantic
    would read 0 (or "0") as a Unix timestamp and store a 1970 activity."""
    if isinstance(value, int | float | Decimal) or (
        isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()
    ):
        raise ValueError("write the moment as an ISO 8601 date and time")
    return value


def _sane_moment(value: dt.datetime) -> dt.datetime:
    if not 1900 <= value.year <= 2200:
        raise ValueError("out of range")
    return value


Id = Annotated[int, Field(ge=1, le=9_223_372_036_854_775_807)]
Text = Annotated[str, AfterValidator(_no_nul), Field(max_length=10_000)]
Moment = Annotated[dt.datetime, BeforeValidator(_no_epoch_number), AfterValidator(_sane_moment)]


Line40 = Annotated[str, AfterValidator(_no_nul), Field(max_length=40)]
Line100 = Annotated[str, AfterValidator(_no_nul), Field(max_length=100)]
Line200 = Annotated[str, AfterValidator(_no_nul), Field(max_length=200)]
Line254 = Annotated[str, AfterValidator(_no_nul), Field(max_length=254)]
Line300 = Annotated[str, AfterValidator(_no_nul), Field(max_length=300)]
Line500 = Annotated[str, AfterValidator(_no_nul), Field(max_length=500)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, str] = {}


class ErrorOut(Schema):
    error: ErrorBody


ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,
    401: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}


def responds(ok: dict[int, Any]) -> dict[int, Any]:
    return ok | ERRORS


class Paging(Schema):
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(50, ge=1, le=100)
