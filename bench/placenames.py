"""Place names: the parser's speed and accuracy, the in-memory dictionary's size, search and reverse
geocoding latency.

    ./dev bench placenames [--addresses N] [--queries 500]

1. Parse rate per core (CPU time of this one process, so other load on the machine counts less) of our
   parser over the labelled set (tests/placenames/data/parse_set.csv), and its per-part accuracy. cpca and
   JioNLP are compared on the same lines when they are importable (install them into a scratch venv for
   the bench only: they are not dependencies of the service); otherwise the line says they were skipped.
2. Memory of the in-memory dictionary (tracemalloc), per spelling. No address is held in memory: addresses
   are looked up in the database through indexes, so the per-address in-memory cost is 0 bytes.
3. With --addresses N: a fresh SQLite database (or PLACENAMES_DATABASE_URL if set, e.g. PostgreSQL) gets N
   synthetic addresses from the generator; then p50/p99 of search as you type and of reverse geocoding,
   called in-process through the app (ASGI, no network, no gateway).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "placenames" / "data" / "parse_set.csv"
PARTS = ["province", "city", "district", "township", "community", "road", "house_number", "area", "building",
         "unit", "floor", "room"]


def _gazetteer():
    from services.placenames import gazetteer as G, seed
    divisions = [G.DivisionRow(r["code"], r["name"], r["level"], r["valid_to"] is None, r["successor_code"])
                 for r in seed.source_rows()]
    rows = seed.name_rows()
    ids = {(r["name"], r["district_code"]): i for i, r in enumerate(rows, 1)}
    names = [G.NameRow(i, r["name"], r["kind"], r["status"], r["district_code"],
                       ids.get((r["standard_name"], r["district_code"])) if r["standard_name"] else None)
             for i, r in enumerate(rows, 1)]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    built = G.build(divisions, names)
    size = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    return built, size


def _accuracy(rows, got_parts) -> tuple[float, dict[str, float]]:
    right, total = {p: 0 for p in PARTS}, {p: 0 for p in PARTS}
    for row, got in zip(rows, got_parts):
        for p in PARTS:
            if row[p] or p in got:
                total[p] += 1
                right[p] += got.get(p, "") == row[p]
    overall = sum(right.values()) / max(sum(total.values()), 1)
    return overall, {p: right[p] / total[p] for p in PARTS if total[p]}


def bench_parser(rounds: int = 20) -> None:
    from services.placenames.parsing.parser import parse
    rows = list(csv.DictReader(LABELLED.open(encoding="utf-8")))
    texts = [r["text"] for r in rows]
    gaz, size = _gazetteer()
    parsed = [{k: p.value for k, p in parse(gaz.dictionary, t).parts.items()} for t in texts]
    overall, per_part = _accuracy(rows, parsed)
    start = time.process_time()
    for _ in range(rounds):
        for t in texts:
            parse(gaz.dictionary, t)
    rate = rounds * len(texts) / (time.process_time() - start)
    print(f"ours:  {rate:,.0f} addresses/s per core (CPU time), {len(texts)} labelled lines × {rounds}; "
          f"parts right {overall:.2%}")
    print("       per part: " + ", ".join(f"{p} {v:.1%}" for p, v in per_part.items()))
    print(f"dictionary: {len(gaz.dictionary):,} spellings, {size / 2**20:.1f} MiB "
          f"({size / len(gaz.dictionary):.0f} B per spelling); addresses held in memory: none (0 B per address)")
    for name in ("cpca", "jionlp"):
        try:
            __import__(name)
        except ImportError:
            print(f"{name}: skipped (not installed; install it in a scratch venv to compare)")
            continue
        _compare(name, rows, texts)


def _compare(name: str, rows, texts) -> None:
    """cpca and JioNLP cover province/city/district (and JioNLP township/village); compare those levels."""
    if name == "cpca":
        import cpca
        run = lambda batch: cpca.transform(batch)  # noqa: E731
        run(texts[:5])  # loads its data: not part of the rate
        start = time.process_time()
        frame = run(texts)
        rate = len(texts) / (time.process_time() - start)
        got = [{"province": r["省"] or "", "city": r["市"] or "", "district": r["区"] or ""}
               for _, r in frame.iterrows()]
    else:
        import jionlp
        jionlp.parse_location(texts[0], town_village=True)  # loads its data: not part of the rate
        start = time.process_time()
        results = [jionlp.parse_location(t, town_village=True) for t in texts]
        rate = len(texts) / (time.process_time() - start)
        got = [{"province": r.get("province") or "", "city": r.get("city") or "", "district": r.get("county") or "",
                "township": r.get("town") or ""} for r in results]
    levels = list(got[0])
    right = {lv: sum(g[lv] == r[lv] for g, r in zip(got, rows) if r[lv]) for lv in levels}
    total = {lv: sum(1 for r in rows if r[lv]) for lv in levels}
    print(f"{name}: {rate:,.0f} addresses/s per core; " + ", ".join(
        f"{lv} {right[lv] / total[lv]:.1%}" for lv in levels if total[lv]) + " (where written)")


async def bench_queries(count: int, queries: int) -> None:
    import httpx

    from services.placenames.generate import generate
    from services.placenames.main import create_app
    from services.placenames.settings import PlacenamesSettings
    from shared import migrations
    from shared.db import Database

    url = os.environ.get("PLACENAMES_DATABASE_URL") or \
        f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='placenames-bench-')}/placenames.db"
    await asyncio.to_thread(migrations.upgrade, "placenames", url)
    database = Database(url)
    try:
        await generate(database, count)
    finally:
        await database.dispose()
    app = create_app(PlacenamesSettings(database_url=url))
    rng = random.Random(7)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://placenames") as client:
        roads = [r["name"] for r in __import__("services.placenames.seed", fromlist=["x"]).name_rows()
                 if r["kind"] == "road"]
        await client.get("/api/placenames/v1/addresses/search", params={"q": "天童"})  # builds the dictionary

        async def timed(path, params):
            start = time.perf_counter()
            response = await client.get(path, params=params)
            assert response.status_code == 200, response.text
            return (time.perf_counter() - start) * 1000

        search = [await timed("/api/placenames/v1/addresses/search",
                              {"q": rng.choice([r[:2], r, r + str(rng.randint(1, 30))]) if (r := rng.choice(roads))
                               else r}) for _ in range(queries)]
        reverse = [await timed("/api/placenames/v1/reverse-geocode",
                               {"lat": 29.82 + rng.uniform(-0.03, 0.03), "lon": 121.56 + rng.uniform(-0.03, 0.03),
                                "radius_m": 100}) for _ in range(queries)]
    for label, samples in (("search as you type", search), ("reverse geocoding", reverse)):
        q = statistics.quantiles(samples, n=100)
        print(f"{label}: p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms over {queries} calls "
              f"({count:,} addresses, {url.split(':')[0]}, in-process)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev bench placenames")
    parser.add_argument("--addresses", type=int, default=0, help="generate N addresses and time search/reverse")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    bench_parser()
    if args.addresses:
        asyncio.run(bench_queries(args.addresses, args.queries))


if __name__ == "__main__":
    main()
