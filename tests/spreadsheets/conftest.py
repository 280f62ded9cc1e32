"""Spreadsheet imports and exports end to end: the gateway in-process in front of the real services served by
uvicorn on loopback, each on its committed database on the test's backend; the worker runs in the test
(`drain`), as the service's worker process would. Every table is emptied afterwards."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from openpyxl import Workbook
from stdnum.cn import ric

from gateway.principals import DEMO_PRINCIPALS, issue_token
from shared.db import Database
from shared.divisions import division_code
from shared.identity import Principal
from shared.jobs import Tasks, Worker
from tests.conftest import _empty_tables, service_database, settings_for
from tests.gateway.conftest import gateway_client
from tests.shared.loopback import free_port, serve_in_background

YINZHOU = division_code("鄞州区")
BAIZHANG = division_code("百丈街道")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def id_number(serial: int, born: dt.date | None = None) -> str:
    """A valid ID number registered in 鄞州区 of someone born between 1935 and 1959 (60 or older)."""
    birth = born or dt.date(1935, 1, 1) + dt.timedelta(days=serial % 9000)
    base = f"{YINZHOU}{birth:%Y%m%d}{(serial // 9000) % 1000:03d}"
    return base + ric.calc_check_digit(base + "0")


def workbook(rows: list[list], *, sheet: str = "老年人", extra_sheets: tuple[str, ...] = ()) -> Workbook:
    book = Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    for name in extra_sheets:
        book.create_sheet(name)
    return book


def xlsx(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def repacked(
    content: bytes, edits: dict[str, Callable[[bytes], bytes]], added: dict[str, bytes] | None = None
) -> bytes:
    """The workbook with some parts edited and others added, deflated as Excel does."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            archive.writestr(info.filename, edits.get(info.filename, lambda d: d)(data))
        for name, data in (added or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def with_shared_strings(content: bytes, part: bytes) -> bytes:
    """The workbook with `part` as its shared strings (`xl/sharedStrings.xml`), declared where openpyxl finds it: in
    the content types and the workbook's relationships, as Excel writes text."""
    return repacked(
        content,
        {
            "[Content_Types].xml": lambda d: d.replace(
                b"</Types>",
                b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
            ),
            "xl/_rels/workbook.xml.rels": lambda d: d.replace(
                b"</Relationships>",
                b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
            ),
        },
        {"xl/sharedStrings.xml": part},
    )


@dataclass
class Suite:
    http: httpx.AsyncClient
    databases: dict[str, Database]
    tasks: dict[str, Tasks]
    token_secret: str

    def bearer(self, principal: str | Principal) -> dict[str, str]:
        who = DEMO_PRINCIPALS[principal] if isinstance(principal, str) else principal
        return {"Authorization": "Bearer " + issue_token(who, self.token_secret, 600)}

    async def drain(self, service: str = "eldercare") -> list[tuple[str, str]]:
        """Run the service's due jobs to their end, as its worker process would: the spreadsheet jobs among them, with
        their final status (the scheduled jobs the worker also runs are left out)."""
        worker = Worker(
            self.databases[service], self.tasks[service], name="test-worker", lease=dt.timedelta(minutes=10)
        )
        return [(task, status) for task, status in await worker.run_until_idle() if task.startswith("spreadsheets.")]

    async def upload(
        self,
        content: bytes,
        *,
        kind: str = "elders",
        who: str | Principal = "staff-yinzhou",
        service: str = "eldercare",
        filename: str = "elders.xlsx",
        **form: str,
    ) -> httpx.Response:
        return await self.http.post(
            f"/api/{service}/v1/spreadsheet-imports",
            files={"file": (filename, content, XLSX)},
            data={"kind": kind, **form},
            headers=self.bearer(who),
        )

    async def imported(self, content: bytes, service: str = "eldercare", **options) -> dict:
        """Upload, run the worker, and return the import as its owner sees it."""
        answer = await self.upload(content, service=service, **options)
        assert answer.status_code in (200, 202), answer.text
        await self.drain(service)
        who = options.get("who", "staff-yinzhou")
        result = await self.http.get(
            f"/api/{service}/v1/spreadsheet-imports/{answer.json()['id']}", headers=self.bearer(who)
        )
        assert result.status_code == 200, result.text
        return result.json()


SERVICES = ("eldercare", "assistance", "charity")


@pytest.fixture
async def suite(backend, db_dir) -> AsyncIterator[Suite]:
    import importlib

    databases, tasks, servers, upstreams = {}, {}, [], {}
    for service in SERVICES:
        database = await service_database(service, backend, db_dir)
        app = importlib.import_module(f"services.{service}.main").create_app(settings_for(service, database.url))
        port = free_port()
        server, task = await serve_in_background(app, port)
        servers.append((server, task))
        upstreams[f"upstream_{service}"] = f"http://127.0.0.1:{port}"
        databases[service] = Database(database.url)
        tasks[service] = importlib.import_module(f"services.{service}.jobs").tasks
    gateway = await service_database("gateway", "sqlite", db_dir)
    try:
        async for client in gateway_client(
            gateway, upstream_placenames=f"http://127.0.0.1:{free_port()}", upstream_read_timeout_s=30, **upstreams
        ):
            yield Suite(client, databases, tasks, client.settings.token_secret)
    finally:
        for server, task in servers:
            server.should_exit = True
            await task
        for service, database in databases.items():
            await database.dispose()
            await _empty_tables(service, await service_database(service, backend, db_dir))
