"""The spreadsheet phase of `./dev bench eldercare`: 100,000 older people imported from one .xlsx, then exported.

Through the gateway, as staff would: the .xlsx (made here, not timed) is uploaded to POST /spreadsheet-imports;
eldercare's worker process (started for this phase) checks every row, then creates them in chunks; the time is from
the upload to the import's `imported`. Then POST /spreadsheet-exports of every older person the token sees (masked),
until `ready`, and the download. Prints rows per second of each, against the target of 60 s, and the peak resident
memory (VmHWM) of the worker, which streams both ways and must not grow with the file.

Run alone, `./dev bench spreadsheets` measures the reading of a workbook before any row is imported (shared/spreadsheets.py),
no service or database: each measurement in a child process of its own, which reports its CPU time and its peak
resident memory (ru_maxrss), so one does not inherit another's heap.

    ./dev bench spreadsheets [--rows 100000] [--columns 10] [--cell-mib 41] [--styles-mb 400] [--rounds 1]

- text run: a workbook of 30 KB whose one cell holds `--cell-mib` MiB of one letter, refused by the byte scan
  (MAX_TEXT_RUN_BYTES) before any parser holds the cell;
- whole part: a styles part of `--styles-mb` MB of empty tags (`<a/>`), refused from the zip's directory (over
  MAX_WHOLE_PART_BYTES), and one of 8 MB (under it) refused by its tags counted as it is inflated (over
  MAX_WHOLE_PART_TAGS), each before openpyxl parses it;
- shared strings: 40 MB of `<si><t>a</t></si>`, refused by the strings counted as the part is inflated (over
  `max_shared_strings`) before openpyxl lists them;
- scan: the byte scan alone (`_scan_parts`: text runs, merged cells, rows counted) over `--rows` × `--columns` cells,
  against openpyxl's read-only load of the same file with its rows read (`load_workbook(read_only=True)`,
  `iter_rows(values_only=True)`), and the import's own read (`open_sheet` and its rows: the scan, then our parser);
- baseline: a child that only imports the modules, the floor of every peak.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import cpu_seconds, load_average, say
from shared.divisions import division_code

API = "/api/eldercare/v1"
YINZHOU = division_code("鄞州区")  # the district of the generated ID numbers
TARGET_S = 60.0
FIRST_SERIAL = 200_000  # past the people the other phases register (their serials count from 0)


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def register_xlsx(first: int, count: int) -> bytes:
    """A street office's register as staff keep it: one person a row, the headers in Chinese."""
    from openpyxl import Workbook

    from bench.eldercare import AREA, id_number

    book = Workbook(write_only=True)
    sheet = book.create_sheet("老年人")
    sheet.append(
        ["身份证号", "姓名", "手机", "地址", "区划代码", "独居", "紧急联系人", "紧急联系人电话", "紧急联系人关系"]
    )
    for n in range(first, first + count):
        sheet.append(
            [
                id_number(n),
                f"老人{n}",
                f"139{n % 10**8:08d}",
                f"百丈东路{n % 500 + 1}号",
                AREA,
                "是" if n % 3 == 0 else "否",
                "王小明",
                f"137{n % 10**8:08d}",
                "儿子",
            ]
        )
    with tempfile.TemporaryFile() as out:
        book.save(out)
        out.seek(0)
        return out.read()


async def settled(pid: int, quiet_s: float = 1.0, most_s: float = 60.0) -> None:
    """Until the process has used no CPU for `quiet_s` (its imports and first polls done), at most `most_s`."""
    deadline = time.monotonic() + most_s
    used = cpu_seconds(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet_s)
        now = cpu_seconds(pid)
        if now - used < 0.05:
            return
        used = now


async def until(session: aiohttp.ClientSession, url: str, headers: dict[str, str], final: set[str]) -> dict[str, Any]:
    while True:
        async with session.get(url, headers=headers) as response:
            answer: dict[str, Any] = await response.json()
        if answer.get("status") in final:
            return answer
        await asyncio.sleep(0.25)


async def run(suite: Any, *, rows: int) -> None:
    base = suite.url()
    say()
    started = time.perf_counter()
    content = await asyncio.to_thread(register_xlsx, FIRST_SERIAL, rows)
    say(
        f"spreadsheets: {rows} older people in one .xlsx of {len(content) / 2**20:.1f} MiB "
        f"(made in {time.perf_counter() - started:.1f} s, not counted)"
    )
    suite.start("eldercare-worker")
    worker = suite.processes["eldercare-worker"].pid
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(base + "/api/auth/v1/dev-tokens", json={"principal": "staff-yinzhou"}) as response:
            headers = {"authorization": f"Bearer {(await response.json())['access_token']}"}
        await settled(worker)  # the worker's start (its imports), not counted: a worker is a long-lived process
        say(f"worker   eldercare-worker pid {worker}, peak RSS after start {peak_rss_mib(worker):.0f} MiB")

        api = suite.processes["eldercare"].pid
        started, cpu_before = time.perf_counter(), (cpu_seconds(worker), cpu_seconds(api))
        form = aiohttp.FormData()
        form.add_field("kind", "elders")
        form.add_field("file", content, filename="register.xlsx", content_type="application/octet-stream")
        async with session.post(base + API + "/spreadsheet-imports", data=form, headers=headers) as response:
            answer = await response.json()
            if response.status != 202:
                raise RuntimeError(f"the upload answered {response.status}: {answer}")
        uploaded = time.perf_counter() - started
        done = await until(
            session, f"{base}{API}/spreadsheet-imports/{answer['id']}", headers, {"imported", "rejected", "failed"}
        )
        took = time.perf_counter() - started
        worker_cpu, api_cpu = cpu_seconds(worker) - cpu_before[0], cpu_seconds(api) - cpu_before[1]
        if done["status"] != "imported" or done["rows_created"] != rows:
            raise RuntimeError(f"the import ended {done['status']}: {json.dumps(done, ensure_ascii=False)[:500]}")
        say(
            f"import   {rows} rows in {took:.1f} s = {rows / took:.0f} rows/s (upload {uploaded:.1f} s; every row "
            f"checked, then created in chunks of 500); worker peak RSS {peak_rss_mib(worker):.0f} MiB; "
            f"target {TARGET_S:.0f} s: {'met' if took <= TARGET_S else 'MISSED'}"
        )
        # CPU is what the code costs whatever else the machine runs: the worker does the import on one core.
        say(
            f"         CPU: worker {worker_cpu:.1f} s ({worker_cpu / took:.2f} of a core over the import), "
            f"API process {api_cpu:.1f} s; load average {os.getloadavg()[0]:.1f}"
        )

        started = time.perf_counter()
        async with session.post(base + API + "/spreadsheet-exports", json={"kind": "elders"}, headers=headers) as r:
            asked = await r.json()
            if r.status != 202:
                raise RuntimeError(f"the export answered {r.status}: {asked}")
        ready = await until(session, f"{base}{API}/spreadsheet-exports/{asked['id']}", headers, {"ready", "failed"})
        if ready["status"] != "ready":
            raise RuntimeError(f"the export ended {ready['status']}")
        async with session.get(base + ready["download"], headers=headers) as response:
            body = await response.read()
        took = time.perf_counter() - started
        exported = ready["rows_total"]
        say(
            f"export   {exported} rows (masked) in {took:.1f} s = {exported / took:.0f} rows/s, "
            f"{len(body) / 2**20:.1f} MiB downloaded; worker peak RSS {peak_rss_mib(worker):.0f} MiB; "
            f"target {TARGET_S:.0f} s: {'met' if took <= TARGET_S else 'MISSED'}"
        )
    say(f"eldercare API process peak RSS {peak_rss_mib(suite.processes['eldercare'].pid):.0f} MiB")


# --- `./dev bench spreadsheets`: reading a workbook, in child processes ---------------------------------------------


def cells_xlsx(rows: int, columns: int) -> bytes:
    """A sheet of `rows` × `columns` as staff fill one (an ID-number-like text, a name, then numbers and text), in the
    XML openpyxl's write-only mode writes (inline strings), written here directly: 100,000 rows in a few seconds
    instead of half a minute."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    book.create_sheet("老年人").append(["身份证号", "姓名", *(f"列{n}" for n in range(3, columns + 1))])
    with tempfile.TemporaryFile() as out:
        book.save(out)
        out.seek(0)
        base = out.read()
    sheet = "xl/worksheets/sheet1.xml"
    head, _, tail = zipfile.ZipFile(io.BytesIO(base)).read(sheet).partition(b"</sheetData>")

    def text(ref: str, value: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'

    letters = [chr(65 + c) if c < 26 else "A" + chr(65 + c - 26) for c in range(columns)]
    source = zipfile.ZipFile(io.BytesIO(base))
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != sheet:
                archive.writestr(info.filename, source.read(info))
        with archive.open(sheet, "w", force_zip64=True) as part:
            part.write(head)
            for n in range(rows):
                r = n + 2
                cells = [text(f"A{r}", f"{YINZHOU}{19350101 + n % 9000:08d}{n % 1000:03d}X"), text(f"B{r}", f"老人{n}")]
                for c in range(2, columns):
                    ref = f"{letters[c]}{r}"
                    cells.append(
                        f'<c r="{ref}" t="n"><v>{n * 7 % 100_000}</v></c>'
                        if c % 2
                        else text(ref, f"百丈东路{(n + c) % 500}号")
                    )
                part.write(f'<row r="{r}">{"".join(cells)}</row>'.encode())
            part.write(b"</sheetData>" + tail)
    return packed.getvalue()


def with_part(base: bytes, name: str, head: bytes, repeated: bytes, total: int, tail: bytes) -> bytes:
    """`base` with the part `name` replaced by head + `repeated` up to `total` bytes + tail, streamed into the zip
    (deflated quickly: 400 MB of a short tag take a few seconds and 2 MB)."""
    source = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for info in source.infolist():
            if info.filename != name:
                archive.writestr(info.filename, source.read(info))
        with archive.open(name, "w", force_zip64=True) as part:
            part.write(head)
            block = repeated * ((1 << 20) // len(repeated))
            for _ in range(total // len(block)):
                part.write(block)
            part.write(tail)
    return out.getvalue()


def one_cell_xlsx(cell_bytes: int) -> bytes:
    base = cells_xlsx(1, 2)
    sheet = "xl/worksheets/sheet1.xml"
    original = zipfile.ZipFile(io.BytesIO(base)).read(sheet)
    head, _, rest = original.partition(b"</sheetData>")
    row = b'<row r="3"><c r="B3" t="inlineStr"><is><t>'
    return with_part(base, sheet, head + row, b"a" * 1024, cell_bytes, b"</t></is></c></row></sheetData>" + rest)


def tiny_tags_xlsx(part_bytes: int) -> bytes:
    ns = b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    return with_part(cells_xlsx(1, 2), "xl/styles.xml", ns, b"<a/>", part_bytes, b"</styleSheet>")


def strings_xlsx(part_bytes: int) -> bytes:
    """A workbook whose shared strings (declared as openpyxl finds them) are `part_bytes` of one-letter strings."""
    declared = {
        "[Content_Types].xml": (
            b"</Types>",
            b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        ),
        "xl/_rels/workbook.xml.rels": (
            b"</Relationships>",
            b'<Relationship Id="rId99" Type="http://schemas.'
            b'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
            b"</Relationships>",
        ),
    }
    source = zipfile.ZipFile(io.BytesIO(cells_xlsx(1, 2)))
    base = io.BytesIO()
    with zipfile.ZipFile(base, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            old, new = declared.get(name, (b"", b""))
            archive.writestr(name, source.read(name).replace(old, new) if old else source.read(name))
        archive.writestr("xl/sharedStrings.xml", b"")
    ns = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    return with_part(base.getvalue(), "xl/sharedStrings.xml", ns, b"<si><t>a</t></si>", part_bytes, b"</sst>")


def child(what: str, path: str) -> None:
    """One measurement, in this (child) process: prints its CPU seconds, wall seconds and peak RSS as JSON."""
    from openpyxl import load_workbook

    from shared import spreadsheets
    from shared.spreadsheets import Column, Layout, SpreadsheetRefused, open_sheet

    content = Path(path).read_bytes()
    layout = Layout(
        "老年人", (Column("id_number", ("身份证号",), required=True), Column("name", ("姓名",), required=True))
    )
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    outcome = "read"
    try:
        if what == "scan":
            parts = spreadsheets._scan_parts(content)
            outcome = f"{sum(rows for _, rows in parts.values())} rows counted"
        elif what == "openpyxl":
            book = load_workbook(io.BytesIO(content), read_only=True)
            cells = sum(len(row) for row in book["老年人"].iter_rows(values_only=True))
            book.close()
            outcome = f"{cells} cells"
        elif what == "import-read":
            sheet = open_sheet(content, layout)
            cells = sum(len(cells) for _, cells in sheet.rows)
            sheet.close()
            outcome = f"{cells} cells"
        elif what != "baseline":
            open_sheet(content, layout)
    except SpreadsheetRefused as refused:
        outcome = f"refused: {str(refused)[:90]}"
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    wall = time.perf_counter() - started
    print(json.dumps({"cpu": cpu, "wall": wall, "peak_mib": after.ru_maxrss / 1024, "outcome": outcome}))


def measured(what: str, path: Path) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (its own peak RSS, ru_maxrss)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.spreadsheets", "--child", what, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def reading(args: argparse.Namespace) -> None:
    say(f"load average {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-spreadsheets-") as scratch:
        files: dict[str, Path] = {}
        for name, make, about in (
            ("cells", lambda: cells_xlsx(args.rows, args.columns), f"{args.rows:,} rows × {args.columns} columns"),
            ("text run", lambda: one_cell_xlsx(int(args.cell_mib * 2**20)), f"one cell of {args.cell_mib} MiB"),
            ("whole part", lambda: tiny_tags_xlsx(args.styles_mb * 10**6), f"styles of {args.styles_mb} MB of <a/>"),
            # Under the bound in bytes, over it in tags: refused as it is inflated, not from the zip's directory.
            ("whole part, counted", lambda: tiny_tags_xlsx(8 * 10**6), "styles of 8 MB of <a/>"),
            ("strings", lambda: strings_xlsx(40 * 10**6), "shared strings of 40 MB of <si><t>a</t></si>"),
        ):
            started = time.perf_counter()
            files[name] = Path(scratch) / f"{name.replace(' ', '-').replace(',', '')}.xlsx"
            files[name].write_bytes(make())
            say(
                f"made     {name}: {about}, {files[name].stat().st_size / 2**20:.2f} MiB as .xlsx "
                f"({time.perf_counter() - started:.1f} s, not counted)"
            )
        plan = [
            ("baseline", "baseline", "whole part, counted"),  # the smallest file: what importing the modules takes
            ("text-run refusal", "refuse", "text run"),
            ("whole-part refusal", "refuse", "whole part"),
            ("  same, 8 MB", "refuse", "whole part, counted"),
            ("strings refusal", "refuse", "strings"),
            ("scan", "scan", "cells"),
            ("openpyxl read-only", "openpyxl", "cells"),
            ("import's read", "import-read", "cells"),
        ]
        results: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in plan}
        for round_ in range(args.rounds):
            order = plan if round_ % 2 == 0 else plan[:1] + plan[:0:-1]  # alternate: load moves, not one row's luck
            for label, what, file in order:
                results[label].append(measured(what, files[file]))
        say(f"load average {load_average()}")
    say()
    floor = max(r["peak_mib"] for r in results["baseline"])
    say(f"{'what':<20} {'CPU s (rounds)':<30} {'wall s':>8} {'peak RSS MiB':>13} {'over baseline':>14}  outcome")
    for label, _, _ in plan:
        runs = results[label]
        cpus = ", ".join(f"{r['cpu']:.3f}" for r in runs)
        peak = max(r["peak_mib"] for r in runs)
        say(
            f"{label:<20} {statistics.median(r['cpu'] for r in runs):>7.3f} ({cpus}){'':<{max(0, 20 - len(cpus))}} "
            f"{statistics.median(r['wall'] for r in runs):>8.3f} {peak:>13.0f} {peak - floor:>+14.0f}  "
            f"{runs[-1]['outcome'][:100]}"
        )
    scan = statistics.median(r["cpu"] for r in results["scan"])
    openpyxl = statistics.median(r["cpu"] for r in results["openpyxl read-only"])
    say()
    say(f"scan / openpyxl read-only CPU: {scan / openpyxl:.2f} (median of {args.rounds} rounds each)")
    say("peak RSS is the child's whole process; the baseline row is what importing the modules alone takes")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev bench spreadsheets", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the sheet the scan and openpyxl read")
    parser.add_argument("--columns", type=int, default=10, help="columns of that sheet")
    parser.add_argument("--cell-mib", type=float, default=41, help="MiB of text in the one cell refused")
    parser.add_argument("--styles-mb", type=int, default=400, help="MB of empty tags in the styles part refused")
    parser.add_argument("--rounds", type=int, default=1, help="each measurement this many times, order alternated")
    parser.add_argument("--child", nargs=2, metavar=("WHAT", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
    else:
        reading(args)


if __name__ == "__main__":
    main()
