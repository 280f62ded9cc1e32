"""The one base of every request and response model: text and dates are checked here, once, for all fields.

- Text refuses control characters (C0, DEL and C1, e.g. NUL, which PostgreSQL cannot store in `text` and
  which has no business in a name or an address). Tab, line feed and carriage return stay allowed: notes
  and descriptions have several lines. A field's text of white space alone is refused too (items of a list are
  left to the list's own rules: one blank line must not refuse a whole batch).
- Dates and times are strict ISO 8601 strings, in the years 1900 to 2199. Pydantic on its own also takes a
  number as Unix time, so `0` would be 1 January 1970: a family bed started in 1970, an address retired in 1970.
- An integer field with no upper bound of its own (an id) refuses text holding a number past MAX_INTEGER
  ("9999999999999999999999999"): pydantic reads text into the number, which no column holds. Numbers sent as numbers
  are named by the database error handler (shared.errors), which looks for numbers in the body, not text.

Each refusal is a validation error on the field it was found in, so the caller gets a 422 that names it.
Query and path parameters and stored headers are not models: they get the same checks from `shared.params`
(`IsoDate` for dates, and `refuse_control_characters`, which the app factory runs before every route).
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, BaseModel, Field, ValidationInfo, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

# What an INTEGER column holds (PostgreSQL's 4 bytes): every id and count of the suite's tables. A number past it
# must never reach the database, which refuses it with an error the caller would see as a 500.
MAX_INTEGER = 2**31 - 1
# C0 controls except tab, LF and CR; DEL; C1 controls.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Half of a UTF-16 surrogate pair on its own: JSON's "\ud800" escape gives one, which is no character; it cannot be
# written as UTF-8 (to the database, a response, a log), and pydantic lets it through a text field without bounds.
LONE_SURROGATES = re.compile("[\ud800-\udfff]")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?",
    re.IGNORECASE,
)


def refuse_control_characters(value: Any) -> None:
    """Raise a field error when `value`, or a string anywhere inside it, holds a control character or a lone
    surrogate."""
    if isinstance(value, str):
        found = CONTROL_CHARACTERS.search(value)
        if found:
            raise PydanticCustomError(
                "control_character",
                "must not contain control characters (found U+{code})",
                {"code": f"{ord(found.group()):04X}"},
            )
        found = LONE_SURROGATES.search(value)
        if found:
            raise PydanticCustomError(
                "lone_surrogate",
                "must be valid Unicode text (found U+{code}, half of a surrogate pair)",
                {"code": f"{ord(found.group()):04X}"},
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_control_characters(key)
            refuse_control_characters(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            refuse_control_characters(item)


def refuse_blank(value: Any) -> None:
    """Raise a field error when `value` is text of white space alone (full-width spaces included): a name, an address
    or a reason of spaces met `min_length` and was stored as if given. Empty text is left to each field's bounds."""
    if isinstance(value, str) and value and value.isspace():
        raise PydanticCustomError("blank", "must not be white space alone")


# The years any date of the suite can fall in: births of the oldest residents, plans decades ahead. A visit
# checked in in the year 385 is a typing slip, and past 9999 no date can even be stored.
FIRST_YEAR, LAST_YEAR = 1900, 2199


def _within_years(text: str) -> str:
    if not FIRST_YEAR <= int(text[:4]) <= LAST_YEAR:
        raise PydanticCustomError(
            "date_out_of_range",
            "must fall between the years {first} and {last}",
            {"first": FIRST_YEAR, "last": LAST_YEAR},
        )
    return text


def iso_date(value: Any) -> Any:
    """Before-validator of a date: an ISO string (YYYY-MM-DD) or an already made date, nothing else."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        return _within_years(value)
    raise PydanticCustomError("iso_date", "must be a date written YYYY-MM-DD")


def iso_datetime(value: Any) -> Any:
    """Before-validator of a date-time: an ISO 8601 string or an already made datetime, nothing else."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and ISO_DATETIME.fullmatch(value):
        return _within_years(value)
    raise PydanticCustomError("iso_datetime", "must be a date and time in ISO 8601, e.g. 2026-12-01T08:30:00+08:00")


def _temporal_kind(annotation: Any) -> type | None:
    """dt.date or dt.datetime when the field holds one (optional or not), else None."""
    if annotation is dt.date:
        return dt.date
    if annotation is dt.datetime or annotation is AwareDatetime:
        return dt.datetime
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _temporal_kind(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = {_temporal_kind(arg) for arg in typing.get_args(annotation)} - {None}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def _unbounded_int(field: Any) -> bool:
    """True when a field holds an integer (optional or not) and sets no upper bound of its own: an id, a count."""
    args = [a for a in typing.get_args(field.annotation) if a is not type(None)]
    plain_int = field.annotation is int or (
        typing.get_origin(field.annotation) in (typing.Union, types.UnionType) and args == [int]
    )
    return plain_int and not any(hasattr(m, "le") or hasattr(m, "lt") for m in field.metadata)


def _text_integer(value: Any) -> int | None:
    """The integer a text holds as pydantic reads it into an int field ("12", " +5 ", "1_000", "12.0"), or None."""
    if not isinstance(value, str):
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return int(number) if number.is_integer() else None


def refuse_large_text_integer(value: Any) -> None:
    """Raise a field error when an integer field without bounds of its own is given, as text, a number no INTEGER
    column holds ("9999999999999999999999999"). Pydantic turns the text into the number; the database then refused
    it, and the handler that names a caller's too-large number (shared.errors) looks for numbers, not text: a 500."""
    number = _text_integer(value)
    if number is not None and abs(number) > MAX_INTEGER:
        raise PydanticCustomError("out_of_range", "too large")


def _holds_model(annotation: Any) -> bool:
    """True when a field's value is, or holds, a model (`Member`, `list[Income]`, `Source | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(arg) for arg in typing.get_args(annotation))


class Schema(BaseModel):
    """Base of the API's models (see the module's docstring)."""

    _temporal_fields: ClassVar[dict[str, type]] = {}
    _model_fields: ClassVar[frozenset[str]] = frozenset()
    _unbounded_int_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._temporal_fields = {
            name: kind
            for name, field in cls.model_fields.items()
            if (kind := _temporal_kind(field.annotation)) is not None
        }
        cls._model_fields = frozenset(
            name for name, field in cls.model_fields.items() if _holds_model(field.annotation)
        )
        cls._unbounded_int_fields = frozenset(name for name, field in cls.model_fields.items() if _unbounded_int(field))

    @field_validator("*", mode="before")
    @classmethod
    def _plain_text_and_iso_dates(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in cls._model_fields:
            # The nested model checks its own fields, and its error names the one at fault
            # (`household.members.0.name`) where this check would name only the outer field (`household`).
            return value
        kind = cls._temporal_fields.get(info.field_name or "")
        if kind is dt.datetime and value is not None:
            return iso_datetime(value)
        if kind is dt.date and value is not None:
            return iso_date(value)
        if info.field_name in cls._unbounded_int_fields:
            refuse_large_text_integer(value)
        refuse_control_characters(value)
        refuse_blank(value)
        return value


# A calendar month (Asia/Shanghai), YYYY-MM, in the years every date of the suite falls in (FIRST_YEAR to LAST_YEAR).
MONTH_PATTERN = r"^(19|20|21)[0-9][0-9]-(0[1-9]|1[0-2])$"
Month = Annotated[
    str, Field(pattern=MONTH_PATTERN, examples=["2026-11"], description="A month, YYYY-MM (Asia/Shanghai)")
]


# A time of day (Asia/Shanghai), read from "HH:MM" or "HH:MM:SS". Described as a pattern, not as JSON Schema's
# `format: time`, which is RFC 3339's full-time and demands an offset that a clock time on a phone never has.
ClockTime = Annotated[
    dt.time,
    WithJsonSchema(
        {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", "examples": ["22:00"]}
    ),
]
