"""The spreadsheet phase of `./dev bench eldercare`: 100,000 older people imported from one .xlsx, then exported.

Through the gateway, as staff would: the .xlsx (made here, not timed) is uploaded to POST /spreadsheet-imports;
eldercare's worker process (started for this phase) checks every row, then creates them in chunks; the time is from
the upload to the import's `imported`. Then POST /spreadsheet-exports of every older person the token sees (masked),
until `ready`, and the download. Prints rows per second of each, against the target of 60 s, and the peak resident
memory (VmHWM) of the worker, which streams both ways and must not grow with the file.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import cpu_seconds, say

API = "/api/eldercare/v1"
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
