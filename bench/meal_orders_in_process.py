"""Eldercare's own CPU per meal order, with no sockets and no gateway: `POST /meal-orders` sent straight into the
ASGI app, on uvloop, 10 at once, and the process's CPU time divided by the orders. Steadier than the HTTP bench
on a shared machine, so it shows small changes to the request's handling (docs/benchmarks/eldercare.md).

    ./dev bench eldercare --rounds 1 --hold-rounds 0 --spreadsheet-rows 0 --notifications 0   # fills the database
    ./dev bench meal_orders_in_process [--orders 4000] [--placed] [--calls] [--database-url URL]

It reads the people, a canteen and a sold-out menu the eldercare bench left in its database. By default every
order is refused (sold out, answered from the read before the transaction); with `--placed` each is placed, on
menus it adds (capacity 1,000). Assistance is unreachable, as in the eldercare bench: prices fall back.

`--calls` counts the Python function calls (cProfile's, C functions included) an order makes instead of timing it:
a figure that does not move with the machine's load, for comparing two versions of the code on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import time
import uuid

import asyncpg
import uvloop

from services.eldercare import scopes
from services.eldercare.main import create_app
from services.eldercare.settings import EldercareSettings
from shared.divisions import division_code
from shared.identity import Principal, mint_assertion

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/eldercare_bench"
PATH = "/api/eldercare/v1/meal-orders"
IN_FLIGHT = 10


async def _jobs(connection: asyncpg.Connection, orders: int, placed: bool) -> list[tuple[int, int]]:
    elders = [row["id"] for row in await connection.fetch("SELECT id FROM elders ORDER BY id")]
    if not elders:
        raise SystemExit("no people in the database: run ./dev bench eldercare first")
    if not placed:
        sold_out = await connection.fetchval("SELECT id FROM menus WHERE remaining = 0 LIMIT 1")
        return [(elders[n % len(elders)], sold_out) for n in range(orders)]
    canteen = await connection.fetchval("SELECT id FROM canteens ORDER BY id LIMIT 1")
    # Lunch menus on days after every menu there is (one per day and meal at a canteen), open for a day.
    menus = [
        await connection.fetchval(
            "INSERT INTO menus (canteen_id, served_on, meal, dishes, price_fen, capacity, remaining, cutoff_at, "
            "created_at) SELECT $1, coalesce(max(served_on), current_date) + 1, 'lunch', '[]', 1500, 1000, 1000, "
            "now() + interval '1 day', now() FROM menus RETURNING id",
            canteen,
        )
        for _ in range(orders // len(elders) + 1)
    ]
    return [(elders[n % len(elders)], menus[n // len(elders)]) for n in range(orders)]


async def run(args: argparse.Namespace) -> None:
    settings = EldercareSettings(env="test", database_url=args.database_url, gateway_url="http://127.0.0.1:9")
    app = create_app(settings)
    granted = frozenset(v for k, v in vars(scopes).items() if k.isupper() and isinstance(v, str))
    principal = Principal(subject="bench-in-process", kind="staff", scopes=granted, area=division_code("鄞州区"))
    assertion = mint_assertion(principal, audience="eldercare", secret=settings.identity_secret).encode()
    connection = await asyncpg.connect(args.database_url)
    try:
        jobs = await _jobs(connection, args.orders + 100, args.placed)
    finally:
        await connection.close()

    async def order(elder: int, menu: int) -> int:
        body = json.dumps({"menu_id": menu, "elder_id": elder, "fulfilment": "dine_in", "quantity": 1}).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "query_string": b"",
            "root_path": "",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 5555),
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-identity-assertion", assertion),
                (b"idempotency-key", uuid.uuid4().hex.encode()),
            ],
            "state": {},
        }
        sent, statuses = False, []

        async def receive() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        return statuses[0]

    async with app.router.lifespan_context(app):
        for elder, menu in jobs[:100]:  # warm-up: connections, caches, prepared statements
            await order(elder, menu)
        measured, counts = jobs[100:], {}

        async def client(share: list[tuple[int, int]]) -> None:
            for elder, menu in share:
                status = await order(elder, menu)
                counts[status] = counts.get(status, 0) + 1

        profile = cProfile.Profile() if args.calls else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profile:
            profile.enable()
        await asyncio.gather(*(client(measured[n::IN_FLIGHT]) for n in range(IN_FLIGHT)))
        if profile:
            profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    orders = f"{'placed' if args.placed else 'sold out'}: {len(measured)} orders {dict(sorted(counts.items()))}"
    if profile:
        calls = pstats.Stats(profile).total_calls
        print(f"{orders}, {calls / len(measured):.0f} Python function calls an order")
    else:
        print(
            f"{orders}, CPU {cpu * 1e6 / len(measured):.0f} µs an order, wall {wall * 1e6 / len(measured):.0f} µs "
            f"({IN_FLIGHT} at once)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev bench meal_orders_in_process")
    parser.add_argument("--orders", type=int, default=4000, help="orders measured, after 100 of warm-up")
    parser.add_argument("--placed", action="store_true", help="orders that are placed (default: sold out)")
    parser.add_argument("--calls", action="store_true", help="count the function calls an order makes (no timing)")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="the eldercare bench's database")
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
