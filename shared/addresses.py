"""Standard addresses (标准地址, 一址通) on every record that stores a place.

Elders, canteens, institutions, caregivers' bases, households, charity organisations and projects' sites each
carry the same columns (`StandardAddress`, with `address_table_args`): the standard text and code of the
placenames registry, the division it lies in (`area_code`, which area-scoped access rests on) and its
coordinates. A caller gives either a standard address code or free text; free text is standardised through
placenames, over the gateway with the service's own identity, a deadline and a breaker (`Placenames`).

- `standard`: the code, text, area and coordinates come from the registry.
- `pending`: placenames did not answer; the text as written is kept and the job `addresses.standardise`
  (enqueued with the write, and on a schedule) standardises it later.
- `unresolved`: the job found the text ambiguous or unplaceable; staff list these and give the address again.

The change feed updates rows by `address_code` and `area_code`: these names are a contract (docs).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from fastapi import Request
from pydantic import ConfigDict, Field
from sqlalchemy import CheckConstraint, Float, Index, String, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.areas import AreaCode, check_area, covers
from shared.db import Database, one_statement
from shared.errors import Forbidden, InvalidInput, NotFound, ServiceUnavailable
from shared.geo import check_coordinates
from shared.i18n import N_
from shared.identity import Principal
from shared.jobs import Every, JobContext, Tasks
from shared.peer import PeerClient, PeerRejected, PeerUnavailable, TokenProvider
from shared.schemas import Schema
from shared.service_token import ClientCredentialsToken
from shared.settings import ServiceSettings

log = logging.getLogger("shared.addresses")

AddressStatus = Literal["standard", "pending", "unresolved"]
ADDRESS_STATUSES: tuple[str, ...] = ("standard", "pending", "unresolved")
ADDRESS_CODE_PATTERN = r"^[0-9]{16}$"
MAX_ADDRESS = 200
STANDARDISE_TASK = "addresses.standardise"  # each service registers its job under this name

PARSE_PATH = "/api/placenames/v1/parse"
ADDRESS_PATH = "/api/placenames/v1/addresses/{code}"
# A match below this is not taken as the address: the text is answered as ambiguous with its candidates.
# An assumption, not a figure of the domain: placenames' own confidence for a text naming its district,
# road and number is 0.8 or more.
MIN_CONFIDENCE = 0.6


# --- the columns ----------------------------------------------------------------------------------------


class StandardAddress:
    """The address columns of a record that stores a place (a declarative mixin)."""

    # The standard text once standardised; the text as written while pending or unresolved.
    address: Mapped[str] = mapped_column(String(MAX_ADDRESS))
    # The text the caller wrote: kept for audit and to standardise again.
    address_written: Mapped[str | None] = mapped_column(String(MAX_ADDRESS))
    address_code: Mapped[str | None] = mapped_column(String(20), index=True)
    address_status: Mapped[str] = mapped_column(String(16))
    # Derived from the standard address: its community, else its township, else its district.
    area_code: Mapped[str] = mapped_column(String(12))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


def address_table_args(table: str) -> tuple[Any, ...]:
    """The address columns' rules, for the table's `__table_args__`."""
    return (
        CheckConstraint(
            f"address_status IN ({', '.join(repr(s) for s in ADDRESS_STATUSES)})", name="address_status_known"
        ),
        CheckConstraint("address_status <> 'standard' OR address_code IS NOT NULL", name="standard_address_coded"),
        CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude_range"),
        CheckConstraint("longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude_range"),
        # The job's scan (pending rows by id) and staff's list of unresolved ones.
        Index(f"ix_{table}_address_status_id", "address_status", "id"),
    )


# --- the API's shapes -----------------------------------------------------------------------------------


class AddressIn(Schema):
    """Where a record's place is: a standard address code, or free text standardised on write."""

    address_code: str | None = Field(
        None,
        pattern=ADDRESS_CODE_PATTERN,
        description="Standard address code (标准地址编码, 16 digits) of the placenames registry. Give this or `address`",
        examples=[None],
    )
    address: str | None = Field(
        None,
        min_length=2,
        max_length=MAX_ADDRESS,
        description="The address as free text, standardised through placenames: ambiguous text is a 422 with the "
        "ranked candidates, text that cannot be placed a 422 naming the part. Give this or `address_code`",
    )
    area_code: AreaCode | None = Field(
        None,
        description="Deprecated: the division is derived from the address. When given, the address must lie "
        "within it (a 422 otherwise); while placenames cannot be reached it is the record's area until the "
        "address is standardised",
    )


class AddressChangeIn(AddressIn):
    """A record's address given again (an unresolved one, a move)."""

    model_config = ConfigDict(extra="forbid")
    latitude: float | None = Field(
        None, ge=-90, le=90, description="The position, used only when the standard address has none"
    )
    longitude: float | None = Field(None, ge=-180, le=180)


class AddressOut(Schema):
    address: str = Field(description="The standard text; the text as written while not standardised")
    address_written: str | None = Field(description="The text the caller wrote, as written")
    address_code: str | None = Field(description="Standard address code; none until standardised")
    address_status: AddressStatus = Field(
        description="`standard`; `pending`: placenames could not be reached, a job standardises it shortly; "
        "`unresolved`: the text proved ambiguous or unplaceable, staff must give the address again"
    )
    area_code: str = Field(description="Division of the address: its community, else township, else district")
    latitude: float | None
    longitude: float | None


def address_out(row: StandardAddress) -> dict[str, Any]:
    """The `AddressOut` fields of a row, to build a record's output with."""
    return {name: getattr(row, name) for name in AddressOut.model_fields}


# --- placenames -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    """A standard address of the registry, as a record stores it."""

    code: str
    text: str
    area_code: str
    latitude: float | None
    longitude: float | None


class AmbiguousAddress(InvalidInput):
    """Several standard addresses fit the text: the caller picks one (by its code) or writes more."""

    def __init__(self, field: str, candidates: list[dict[str, Any]], reasons: list[str]):
        if reasons:  # placenames' own words
            super().__init__(field, N_("ambiguous: {reason}"), reason=reasons[-1])
        else:
            super().__init__(field, N_("ambiguous: {count} standard addresses fit"), count=len(candidates))
        self.candidates = candidates  # rendered in the problem (shared/errors.py)


class Unplaceable(InvalidInput):
    """The text names no standard address; the message names the part that could not be placed."""


def _unknown_part(parse: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The part of a parse that kept the text from being placed, in words: a catalogue text and its values."""
    for part in parse.get("parts", []):
        if part.get("written_status") == "unknown":
            return N_("{part} is not known to the registry"), {"part": part["text"]}
    if parse.get("road_suggestions"):
        best = parse["road_suggestions"][0]
        return N_("{written} is not a recorded road (nearest: {nearest})"), {
            "written": best["written"],
            "nearest": best["standard_name"],
        }
    if parse.get("unparsed"):
        return N_("not understood: {parts}"), {"parts": ", ".join(span["text"] for span in parse["unparsed"])}
    kinds = {part.get("kind") for part in parse.get("parts", [])}
    if not kinds & {"road", "lane", "area"}:
        return N_("no road or residential area recognised"), {}
    if parse.get("reasons"):
        return N_("no standard address has these parts ({reason})"), {"reason": parse["reasons"][-1]}
    return N_("no standard address has these parts"), {}


class Placenames:
    """placenames' parse and lookup, through the gateway, as the calling service."""

    def __init__(self, peer: PeerClient):
        self.peer = peer

    @classmethod
    def for_service(cls, settings: ServiceSettings) -> Placenames:
        """Through the gateway with the service's own client-credentials token (see `shared.service_token`); a
        fixed token, where the service's settings have one (`peer_token`), takes its place."""
        fixed: str | None = getattr(settings, "peer_token", None)
        secret = settings.peer_client_secret
        token: TokenProvider | None = None
        if fixed:
            token = lambda: fixed  # noqa: E731
        elif secret:
            token = ClientCredentialsToken(settings.gateway_url, settings.service_name, secret)
        peer = PeerClient(
            "placenames", settings.gateway_url, timeout_s=settings.placenames_timeout_s, token_provider=token
        )
        return cls(peer)

    async def aclose(self) -> None:
        await self.peer.aclose()

    async def lookup(self, code: str, *, field: str = "address_code") -> Placed:
        """The standard address with this code; a 422 on `field` when there is none or it is retired."""
        try:
            found = await self.peer.get_json(ADDRESS_PATH.format(code=code))
        except PeerRejected as rejected:
            if rejected.status_code in (404, 422):
                raise InvalidInput(field, "no standard address {code_}", code_=code) from None
            raise PeerUnavailable(rejected.peer, f"refused: HTTP {rejected.status_code}") from None
        try:
            if found["status"] != "current":
                raise InvalidInput(
                    field,
                    "the standard address {code_} was retired on {retired_on}",
                    code_=code,
                    retired_on=found.get("retired_on"),
                )
            area = found.get("community_code") or found.get("township_code") or found["district_code"]
            return Placed(found["code"], found["full_name"], area, found.get("latitude"), found.get("longitude"))
        except (KeyError, TypeError):  # not the contract: as unusable as no answer
            raise PeerUnavailable(self.peer.name, "an address answer without its fields") from None

    async def place(self, text: str, *, field: str = "address") -> Placed:
        """The standard address free text names. AmbiguousAddress or Unplaceable (422s on `field`) when it
        names none for sure; PeerUnavailable when placenames does not answer."""
        try:
            parse = await self.peer.post_json(PARSE_PATH, {"text": text})
        except PeerRejected as rejected:
            if rejected.status_code == 422:
                raise Unplaceable(field, "placenames cannot read this text as an address") from None
            # Our own request refused (a scope missing): an operator's matter, the record waits as pending.
            raise PeerUnavailable(rejected.peer, f"refused: HTTP {rejected.status_code}") from None
        try:
            match = parse.get("match")
            if match is not None and match["confidence"] >= MIN_CONFIDENCE:
                code = str(match["code"])
            else:
                candidates = parse.get("candidates") or ([match] if match is not None else [])
                if candidates:
                    raise AmbiguousAddress(field, candidates, parse.get("reasons", []))
                message, params = _unknown_part(parse)
                raise Unplaceable(field, message, **params)
        except (AttributeError, KeyError, TypeError):  # not the contract: as unusable as no answer
            raise PeerUnavailable(self.peer.name, "a parse answer without its fields") from None
        return await self.lookup(code, field=field)


def placenames_of(app: Any) -> Placenames:
    """The app's one placenames client (its pool and breaker shared by all requests), made on first use and
    closed with the app (shared/app.py)."""
    state = app.state
    if getattr(state, "placenames", None) is None:
        state.placenames = Placenames.for_service(state.settings)
    client: Placenames = state.placenames
    return client


# --- writing a record's address ------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressValues:
    """What a write stores in the address columns (`values`), and whether the job must see to it."""

    values: dict[str, Any]

    @property
    def pending(self) -> bool:
        return bool(self.values["address_status"] == "pending")


def _standard_values(
    placed: Placed, written: str | None, latitude: float | None, longitude: float | None
) -> dict[str, Any]:
    has_position = placed.latitude is not None and placed.longitude is not None
    return dict(
        address=placed.text,
        address_written=written,
        address_code=placed.code,
        address_status="standard",
        area_code=placed.area_code,
        latitude=placed.latitude if has_position else latitude,
        longitude=placed.longitude if has_position else longitude,
    )


async def standardise_input(
    placenames: Placenames,
    principal: Principal,
    data: AddressIn,
    *,
    latitude: float | None = None,
    longitude: float | None = None,
    fallback_area: str | None = None,
) -> AddressValues:
    """The address columns for a write of `data` by `principal`.

    Called before the write's transaction opens, so a slow placenames holds no connection. 403 when the caller's
    area does not cover the address; 422 when `area_code` is given and the address lies outside it. When
    placenames cannot be reached, free text is accepted as pending in the area the caller gave (or their own),
    and coordinates given by the caller stand until the standard address brings its own.
    """
    if (data.address is None) == (data.address_code is None):
        raise InvalidInput("address", "give either `address` (free text) or `address_code` (a standard address)")
    check_coordinates(latitude, longitude)
    try:
        if data.address_code is not None:
            placed = await placenames.lookup(data.address_code)
        else:
            placed = await placenames.place(str(data.address))
    except PeerUnavailable:
        if data.address is None:  # a code cannot be checked or placed without placenames
            raise ServiceUnavailable(
                "placenames cannot be reached to check the address code: try again shortly, or give the address "
                "as text (kept as pending until it can be standardised)"
            ) from None
        area = data.area_code or fallback_area or principal.area
        if not area:
            raise InvalidInput("area_code", "placenames cannot be reached: give the area the address lies in") from None
        if data.area_code is not None:
            # The record stays in this area until the text can be placed, or for good if it never can: a code no
            # division has (a typing slip) would hide it from every area's staff.
            check_area(data.area_code, "area_code")
        if principal.is_area_staff:
            principal.check_covers(area)
        return AddressValues(
            dict(
                address=data.address,
                address_written=data.address,
                address_code=None,
                address_status="pending",
                area_code=area,
                latitude=latitude,
                longitude=longitude,
            )
        )
    field = "address_code" if data.address_code is not None else "address"
    if data.area_code is not None and not covers(data.area_code, placed.area_code):
        raise InvalidInput(
            "area_code",
            "the address lies in {area_code}, outside {area_code2}",
            area_code=placed.area_code,
            area_code2=data.area_code,
        )
    if principal.is_area_staff and not principal.covers(placed.area_code):
        raise Forbidden(
            "{field_}: the address lies in {area_code}, outside your area {area}",
            field_=field,
            area_code=placed.area_code,
            area=principal.area,
        )
    return AddressValues(_standard_values(placed, data.address, latitude, longitude))


def pending_address(text: str, area_code: str) -> dict[str, Any]:
    """The address columns of a record loaded with free text and a known area (demo data, generated data): pending,
    for the job to standardise as it does any address written while placenames was down."""
    return dict(address=text, address_written=text, address_code=None, address_status="pending", area_code=area_code)


def change_address(row: StandardAddress, address: AddressValues) -> None:
    """A record's address given again: every address column follows (a pending job's update then finds the row
    changed and leaves it, see `standardise_pending`)."""
    for name, value in address.values.items():
        setattr(row, name, value)


async def enqueue_if_pending(session: AsyncSession, tasks: Tasks, address: AddressValues) -> None:
    """With the write that stored a pending address: the job then exists exactly when the row does."""
    if address.pending:
        await tasks.enqueue(session, STANDARDISE_TASK)


Row = TypeVar("Row", bound=StandardAddress)


async def give_address_again(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    data: AddressChangeIn,
    tasks: Tasks,
    load: Callable[[bool], Awaitable[Row]],
) -> Row:
    """`PUT …/{id}/address` of any record: `load(for_update)` reads the record the caller may change (their 404
    or 403 first, before placenames is asked); placenames is asked with no transaction open; then the record,
    read again under a row lock, takes every address column."""
    await load(False)
    await session.rollback()  # nothing is held while placenames answers
    address = await standardise_input(
        placenames_of(request.app), principal, data, latitude=data.latitude, longitude=data.longitude
    )
    row = await load(True)
    change_address(row, address)
    await enqueue_if_pending(session, tasks, address)
    await session.flush()
    return row


def staff_record(
    session: AsyncSession, principal: Principal, model: Any, row_id: int, label: str
) -> Callable[[bool], Awaitable[Any]]:
    """A `load` for `give_address_again` of a register everyone may read (canteens, institutions, providers): 404
    when there is no such row, 403 when it lies outside the caller's area."""

    async def load(for_update: bool) -> Any:
        query = select(model).where(model.id == row_id)
        row = await session.scalar(query.with_for_update() if for_update else query)
        if row is None:
            raise NotFound("no {label} {row_id}", label=label, row_id=row_id)
        if principal.is_area_staff and not principal.covers(row.area_code):
            raise Forbidden(
                "{label} {row_id} is outside your area {area}", label=label, row_id=row_id, area=principal.area
            )
        return row

    return load


# --- the job that standardises pending addresses ----------------------------------------------------------

BATCH = 200  # rows read per scan of a table; the job loops until none is left


@dataclass(frozen=True)
class AddressTable:
    """A model carrying `StandardAddress`, as the job sees it."""

    model: Any  # a declarative class with StandardAddress's columns and an integer `id`
    name: str


async def standardise_pending(
    database: Database,
    placenames: Placenames,
    tables: Sequence[AddressTable],
    *,
    heartbeat: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Standardise every pending address of `tables`; returns counts per table.

    Each row is read, asked about (no transaction open), then written by a conditional update: only if it is
    still pending with the very text that was asked about, so an edit made meanwhile is never overwritten.
    Placenames down: the run stops, the rows stay pending for the next run.
    """
    report: dict[str, Any] = {}
    for table in tables:
        model = table.model
        counts = {"standard": 0, "unresolved": 0, "changed_meanwhile": 0}
        after = 0
        while True:
            async with one_statement(database) as session:
                rows = (
                    await session.execute(
                        select(model.id, model.address_written, model.address)
                        .where(model.address_status == "pending", model.id > after)
                        .order_by(model.id)
                        .limit(BATCH)
                    )
                ).all()
            if not rows:
                break
            for row_id, written, shown in rows:
                after = row_id
                text = written or shown
                try:
                    if not text.strip():  # a record that never had an address (a migrated provider)
                        raise Unplaceable("address", "no address was ever given")
                    placed = await placenames.place(text)
                    values = _standard_values(placed, written or shown, None, None)
                    if values["latitude"] is None:
                        values.pop("latitude"), values.pop("longitude")  # keep what the record had
                    outcome = "standard"
                except PeerUnavailable as down:
                    log.warning(
                        "placenames unavailable: pending addresses wait", extra={"fields": {"reason": str(down)}}
                    )
                    report[table.name] = counts
                    report["stopped"] = f"placenames unavailable: {down.reason}"
                    return report
                except InvalidInput:  # ambiguous or unplaceable: staff must give the address again
                    log.info("address unresolved", extra={"fields": {"table": table.name, "id": row_id}})
                    values, outcome = {"address_status": "unresolved"}, "unresolved"
                async with database.sessionmaker() as session, session.begin():
                    result = await session.execute(
                        update(model)
                        .where(
                            and_(
                                model.id == row_id,
                                model.address_status == "pending",
                                model.address_written.is_not_distinct_from(written),
                                model.address == shown,
                            )
                        )
                        .values(**values)
                        .execution_options(synchronize_session=False)
                    )
                counts[outcome if result.rowcount else "changed_meanwhile"] += 1
            if heartbeat is not None:
                await heartbeat()  # renews the job's lease between batches
        report[table.name] = counts
    return report


def register_standardise_task(
    tasks: Tasks, settings: Callable[[], ServiceSettings], tables: Sequence[AddressTable]
) -> None:
    """The service's job `addresses.standardise` over its tables: one live job at a time, enqueued with each
    pending write and every 5 minutes (for the rows a run left pending because placenames was still down)."""

    @tasks.task(STANDARDISE_TASK, singleton=True, schedule=Every(5))
    async def standardise(ctx: JobContext) -> dict[str, Any]:
        """Give each pending address its standard address, or mark it unresolved for staff."""
        # Settings read at each run, as the API process reads them: the worker runs with the service's environment.
        placenames = Placenames.for_service(settings())
        try:
            return await standardise_pending(ctx.database, placenames, tables, heartbeat=lambda: ctx.progress(0))
        finally:
            await placenames.aclose()
