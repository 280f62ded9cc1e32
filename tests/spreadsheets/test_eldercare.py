"""Eldercare staff import older people, canteens and caregivers from spreadsheets, and export lists, through the
gateway: clean files, files with the mistakes people make in Excel, files that are not spreadsheets, and the
personal data of exports."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import zipfile
import zlib

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from openpyxl.utils.datetime import to_excel

from services.eldercare.spreadsheets import ELDERS_LAYOUT
from shared import spreadsheets
from shared.identity import Principal
from shared.jobs import Worker
from tests.spreadsheets.conftest import BAIZHANG, YINZHOU, id_number, repacked, with_shared_strings, workbook, xlsx

HEADER = ["身份证号", "姓名", "手机", "地址", "区划代码", "独居"]
API = "/api/eldercare/v1"


def elder_rows(first: int, count: int) -> list[list]:
    return [
        [id_number(n), f"老人{n}", f"138{n:08d}", "百丈东路100号", BAIZHANG, "是" if n % 2 else "否"]
        for n in range(first, first + count)
    ]


async def elders_seen(suite, who="staff-yinzhou") -> list[dict]:
    answer = await suite.http.get(f"{API}/elders", params={"limit": 100}, headers=suite.bearer(who))
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_a_clean_register_is_imported_once_however_often_it_is_sent(suite):
    content = xlsx(workbook([HEADER, *elder_rows(1, 5)]))

    first = await suite.upload(content)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "queued" and first.json()["job_id"]
    await suite.drain()
    done = (
        await suite.http.get(f"{API}/spreadsheet-imports/{first.json()['id']}", headers=suite.bearer("staff-yinzhou"))
    ).json()
    assert done["status"] == "imported", done
    assert (done["rows_total"], done["rows_created"], done["rows_present"], done["problems"]) == (5, 5, 0, [])

    people = await elders_seen(suite)
    assert len(people) == 5
    assert {p["name"] for p in people} == {f"老人{n}" for n in range(1, 6)}
    assert all("*" in p["id_number_masked"] and "*" in p["phone_masked"] for p in people)
    assert sum(p["lives_alone"] for p in people) == 3

    again = await suite.upload(content)  # the very same bytes: the same import, nothing new to do
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert await suite.drain() == []

    # A later register repeating three of them: those three are skipped, the two new ones created.
    later = await suite.imported(xlsx(workbook([HEADER, *elder_rows(3, 5)])))
    assert (later["status"], later["rows_created"], later["rows_present"]) == ("imported", 2, 3)
    assert len(await elders_seen(suite)) == 7


async def test_a_sheet_with_mistakes_is_refused_whole_with_each_problem_by_row_and_column(suite):
    book = workbook(
        [
            ["老年人名单（百丈街道）"],  # a title row above the header
            HEADER,
            *elder_rows(1, 2),  # rows 3-4: clean
            [id_number(3)[:-1] + "0", "校验错", None, "百丈东路1号", BAIZHANG, "否"],  # 5: wrong check character
            [id_number(4, born=dt.date(1990, 5, 1)), "年轻人", None, "百丈东路1号", BAIZHANG, "否"],  # 6: 35 years old
            [id_number(5), None, None, "百丈东路1号", BAIZHANG, "否"],  # 7: no name
            [float(id_number(6)[:17] + "0"), "数字身份证", None, "百丈东路1号", BAIZHANG, "否"],  # 8: ID as a number
            [id_number(7), '=A3&""', None, "百丈东路1号", BAIZHANG, "否"],  # 9: a formula
            [id_number(1), "重复", None, "百丈东路1号", BAIZHANG, "否"],  # 10: the person of row 3 again
            [id_number(8), "外区", None, "中山东路1号", division_code_outside(), "否"],  # 11: not the caller's area
            [id_number(9), "合并", None, "百丈东路1号", BAIZHANG, "否"],  # 12-13: an address merged over two rows
            [id_number(10), "合并二", None, None, BAIZHANG, "否"],
            [id_number(11), "独居乱写", None, "百丈东路1号", BAIZHANG, "也许"],  # 14: not yes or no
        ]
    )
    book.active.merge_cells("D12:D13")
    content = xlsx(book)

    result = await suite.imported(content)
    assert result["status"] == "rejected"
    assert result["rows_created"] == 0 and await elders_seen(suite) == []
    problems = {(p["row"], p["column"]) for p in result["problems"]}
    assert {(5, "A"), (6, "A"), (7, "B"), (8, "A"), (9, "B"), (10, "A"), (11, "E"), (12, None), (14, "F")} <= problems
    by_row = {p["row"]: p for p in result["problems"]}
    assert by_row[7]["field"] == "姓名" and "required" in by_row[7]["message"]
    assert "lost its last digits" in by_row[8]["message"]
    assert "formula" in by_row[9]["message"]
    assert "earlier row" in by_row[10]["message"]
    assert "merged" in by_row[12]["message"]
    assert result["rows_total"] == 12 and result["rows_refused"] == 10

    # Asked for the clean rows: rows 3 and 4 are imported, and only they.
    clean = await suite.imported(content, clean_rows_only="true")
    assert (clean["status"], clean["rows_created"], clean["rows_refused"]) == ("imported", 2, 10)
    assert sorted(p["name"] for p in await elders_seen(suite)) == ["老人1", "老人2"]


def division_code_outside() -> str:
    from shared.divisions import division_code

    return division_code("海曙区")


async def test_the_sheet_is_found_by_its_headers_and_a_wrong_one_is_named(suite):
    book = workbook([["说明"], ["这一页是说明"]], sheet="说明")
    data = book.create_sheet("名单")
    for row in [HEADER, *elder_rows(1, 2)]:
        data.append(row)
    found = await suite.imported(xlsx(book))
    assert (found["status"], found["rows_created"]) == ("imported", 2)

    wrong = await suite.imported(
        xlsx(workbook([["编号", "名字"], [1, "张三"]], sheet="Sheet1", extra_sheets=("Sheet2",)))
    )
    assert wrong["status"] == "rejected"
    (problem,) = wrong["problems"]
    assert problem["row"] is None and "Sheet1" in problem["message"] and "身份证号" in problem["message"]

    named = await suite.upload(xlsx(book), sheet="没有这页")
    await suite.drain()
    named = (
        await suite.http.get(f"{API}/spreadsheet-imports/{named.json()['id']}", headers=suite.bearer("staff-yinzhou"))
    ).json()
    assert named["status"] == "rejected" and "没有这页" in named["problems"][0]["message"]


async def test_a_gbk_csv_from_excel_is_read(suite):
    lines = [",".join(HEADER)] + [",".join(map(str, row)) for row in elder_rows(1, 3)]
    content = ("\r\n".join(lines) + "\r\n").encode("gbk")
    result = await suite.imported(content, filename="名单.csv")
    assert (result["status"], result["rows_created"]) == ("imported", 3)
    assert {p["name"] for p in await elders_seen(suite)} == {"老人1", "老人2", "老人3"}


async def test_files_that_are_not_spreadsheets_get_a_clear_answer_and_the_service_goes_on(suite, monkeypatch):
    pdf = await suite.upload(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", filename="名单.xlsx")
    assert pdf.status_code == 422
    assert pdf.json()["errors"][0]["field"] == "file" and "not a spreadsheet" in pdf.json()["detail"]

    # A zip bomb dressed as a workbook: a small file whose members would unpack to far more than the limit (the
    # limit lowered for the test, as the worker runs in this process: the real one takes long to compress).
    monkeypatch.setattr(spreadsheets, "MAX_UNPACKED_BYTES", 4 * 2**20)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (spreadsheets.MAX_UNPACKED_BYTES + 1))
    assert len(bomb.getvalue()) < 64 * 1024
    bombed = await suite.upload(bomb.getvalue())  # refused from the zip's directory, at upload
    assert bombed.status_code == 422, bombed.text
    assert bombed.json()["errors"][0]["field"] == "file" and "unpack" in bombed.json()["detail"]

    broken = await suite.upload(b"PK\x03\x04" + b"\x00" * 100)
    assert broken.status_code == 422 and "damaged" in broken.json()["detail"], broken.text

    too_big = await suite.upload(b"a" * (spreadsheets.MAX_UPLOAD_BYTES + 1), filename="big.csv")
    assert too_big.status_code == 413

    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 3)  # the worker runs in this process: a long sheet, cheaply
    long = await suite.imported(xlsx(workbook([HEADER, *elder_rows(1, 20)])))
    assert long["status"] == "rejected" and "more than 3 rows" in long["problems"][0]["message"]
    assert await elders_seen(suite) == []

    # The next ordinary request still works.
    fine = await suite.imported(xlsx(workbook([HEADER, *elder_rows(1, 1)])))
    assert fine["status"] == "imported"


async def test_a_cell_of_megabytes_of_text_is_rejected_before_the_worker_reads_it(suite):
    # Text pasted by mistake a million times over: a small file whose one cell the XML parser would hold whole (a
    # 400 MB cell took the worker past its memory limit). The import is rejected naming the part, unread.
    typed = xlsx(workbook([HEADER, [id_number(1), "张桂英", None, "百丈东路1号", BAIZHANG, "否"]]))
    pasted = "张桂英".encode() * 500_000  # 4.5 MB: more than Excel or openpyxl would write, so put in the XML itself
    content = repacked(typed, {"xl/worksheets/sheet1.xml": lambda xml: xml.replace("张桂英".encode(), pasted)})
    assert len(content) < 100_000
    result = await suite.imported(content)
    assert result["status"] == "rejected", result
    message = result["problems"][0]["message"]
    assert "far more text in one place than a cell may" in message and "xl/worksheets/sheet1.xml" in message
    assert await elders_seen(suite) == []


async def test_a_styles_part_of_millions_of_tiny_tags_is_rejected_before_openpyxl_reads_it(suite):
    # No long run of text, and far under the unpacked limit: 2,000,000 empty tags (8 MB, 40 KB compressed) that openpyxl
    # would parse whole, before any row, into some 190 MiB (400 MB of them: gigabytes). Rejected naming the part.
    typed = xlsx(workbook([HEADER, [id_number(1), "张桂英", None, "百丈东路1号", BAIZHANG, "否"]]))
    content = repacked(typed, {"xl/styles.xml": lambda xml: xml.replace(b"<fonts", b"<a/>" * 2_000_000 + b"<fonts")})
    assert len(content) < 100_000
    result = await suite.imported(content)
    assert result["status"] == "rejected", result
    message = result["problems"][0]["message"]
    assert "far larger than a workbook's" in message and "xl/styles.xml" in message, message
    assert await elders_seen(suite) == []


async def test_a_part_read_whole_that_its_zip_declares_too_large_is_refused_at_upload_storing_nothing(suite):
    # The styles part declares 400 MB in the zip's directory (2 MB compressed): a 422 naming the file and the part,
    # from the directory alone, before the import is stored or a job queued.
    typed = xlsx(workbook([HEADER, [id_number(1), "张桂英", None, "百丈东路1号", BAIZHANG, "否"]]))
    source, out = zipfile.ZipFile(io.BytesIO(typed)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for info in source.infolist():
            if info.filename != "xl/styles.xml":
                archive.writestr(info.filename, source.read(info))
        with archive.open("xl/styles.xml", "w", force_zip64=True) as part:
            block = b"<a/>" * (1 << 18)
            for _ in range(400):
                part.write(block)
    content = out.getvalue()
    assert len(content) < 4 * 2**20
    answer = await suite.upload(content)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["errors"][0]["field"] == "file", problem
    assert "xl/styles.xml" in problem["detail"] and "far larger than a workbook's" in problem["detail"], problem
    async with suite.databases["eldercare"].sessionmaker() as session:
        stored = (await session.execute(sa.text("SELECT count(*) FROM spreadsheets"))).scalar()
        jobs = (await session.execute(sa.text("SELECT count(*) FROM jobs WHERE task LIKE 'spreadsheets.%'"))).scalar()
    assert (stored, jobs) == (0, 0)
    assert await suite.drain() == []

    # The next ordinary upload still works.
    fine = await suite.imported(typed)
    assert fine["status"] == "imported", fine


async def test_shared_strings_past_what_the_import_can_use_are_rejected_before_openpyxl_reads_them(suite, monkeypatch):
    # openpyxl keeps every shared string in a list: more than the rows × the layout's columns can use is rejected
    # naming the part (the rows lowered for the test: the worker runs in this process).
    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 3)
    cap = spreadsheets.max_shared_strings(ELDERS_LAYOUT)
    assert cap == (3 + 10) * 11 + 10 * 200
    typed = xlsx(workbook([HEADER, [id_number(1), "张桂英", None, "百丈东路1号", BAIZHANG, "否"]]))
    main = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    content = with_shared_strings(typed, b'<sst xmlns="' + main + b'">' + b"<si><t>a</t></si>" * (cap + 1) + b"</sst>")
    result = await suite.imported(content)
    assert result["status"] == "rejected", result
    message = result["problems"][0]["message"]
    assert f"more than {cap:,} strings" in message and "xl/sharedStrings.xml" in message, message
    assert await elders_seen(suite) == []


def cut_short_deflate(content: bytes, member: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The workbook with `member`'s compressed data valid for its first half, then a block deflate does not know
    (a copy damaged past its first rows): the zip's directory is intact, the header row reads, the rest does not."""
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(member)
    original = zipfile.ZipFile(io.BytesIO(content)).read(member)
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    valid = packer.compress(original[: len(original) // 2]) + packer.flush(zlib.Z_SYNC_FLUSH)
    assert len(valid) < info.compress_size  # room for the damage
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged = valid + b"\xff" * (info.compress_size - len(valid))  # BFINAL and the reserved block type 3
    return content[:start] + damaged + content[start + info.compress_size :]


def from_a_later_zip_version(content: bytes) -> bytes:
    """The workbook with its directory saying its members need a zip version no reader here implements."""
    data = bytearray(content)
    directory = data.index(b"PK\x01\x02")
    data[directory + 6 : directory + 8] = (99).to_bytes(2, "little")  # version needed to extract: 9.9
    return bytes(data)


async def test_a_damaged_workbook_is_rejected_with_its_reason_not_left_to_fail(suite):
    # Rows of digits that compress little: the sheet's data runs over many blocks of the zip's stream.
    rows = [
        [id_number(n), hashlib.sha256(str(n).encode()).hexdigest(), None, "百丈东路1号", BAIZHANG, "否"]
        for n in range(3000)
    ]
    content = xlsx(workbook([HEADER, *rows]))
    # A directory zipfile cannot read is refused at upload, from the directory alone; a part damaged inside, by the job.
    later = await suite.upload(from_a_later_zip_version(content))
    assert later.status_code == 422 and "damaged" in later.json()["detail"], later.text
    for damaged in (cut_short_deflate(content),):
        answer = await suite.upload(damaged)
        assert answer.status_code == 202, answer.text
        ran = await suite.drain()
        assert ran == [("spreadsheets.import", "succeeded")]  # not an attempt that failed, to be retried
        result = (
            await suite.http.get(
                f"{API}/spreadsheet-imports/{answer.json()['id']}", headers=suite.bearer("staff-yinzhou")
            )
        ).json()
        assert result["status"] == "rejected", result
        assert "save it again" in result["problems"][0]["message"]
    assert await elders_seen(suite) == []

    # The next ordinary request still works.
    fine = await suite.imported(xlsx(workbook([HEADER, *elder_rows(1, 1)])))
    assert fine["status"] == "imported"


async def test_an_import_whose_job_was_cancelled_is_taken_up_again_when_its_file_is_sent_again(suite):
    content = xlsx(workbook([HEADER, *elder_rows(1, 3)]))
    first = (await suite.upload(content)).json()
    city = Principal(subject="staff:city-jobs", kind="staff", scopes=frozenset({"eldercare.jobs:write"}), area="330200")
    cancelled = await suite.http.post(f"{API}/jobs/{first['job_id']}/cancel", headers=suite.bearer(city))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    path = f"{API}/spreadsheet-imports/{first['id']}"
    dead = (await suite.http.get(path, headers=suite.bearer("staff-yinzhou"))).json()
    assert dead["status"] == "failed" and await elders_seen(suite) == []

    # The same file again: not the dead import as the answer, which nothing would ever run, but that import run.
    again = await suite.upload(content)
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "queued" and again.json()["job_id"] not in (None, first["job_id"])
    assert await suite.drain() == [("spreadsheets.import", "succeeded")]
    done = (
        await suite.http.get(f"{API}/spreadsheet-imports/{again.json()['id']}", headers=suite.bearer("staff-yinzhou"))
    ).json()
    assert (done["status"], done["rows_created"]) == ("imported", 3)
    assert len(await elders_seen(suite)) == 3

    # And once imported, the same file is that import again, with nothing more to do.
    once_more = await suite.upload(content)
    assert once_more.status_code == 200 and once_more.json()["status"] == "imported"
    assert await suite.drain() == []


async def test_a_control_character_in_the_upload_form_is_refused_or_replaced_never_a_500(suite):
    content = xlsx(workbook([HEADER, *elder_rows(1, 1)]))
    named = await suite.upload(content, sheet="老年人\x00")
    assert named.status_code == 422, named.text
    assert named.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in named.json()["errors"]] == ["sheet"]

    # The file's name is only shown back: it is kept with the control character replaced. (httpx would escape it.)
    body = b"".join(
        [
            b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nelders\r\n',
            '--b\r\nContent-Disposition: form-data; name="file"; filename="名单\x00.xlsx"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--b--\r\n",
        ]
    )
    headers = {**suite.bearer("staff-yinzhou"), "Content-Type": "multipart/form-data; boundary=b"}
    answer = await suite.http.post(f"{API}/spreadsheet-imports", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["filename"] == "名单_.xlsx"
    await suite.drain()
    done = await suite.http.get(
        f"{API}/spreadsheet-imports/{answer.json()['id']}", headers=suite.bearer("staff-yinzhou")
    )
    assert done.json()["status"] == "imported"


async def test_imports_need_the_create_scope_and_imports_are_their_uploaders_own(suite):
    reader = Principal(subject="staff:reader", kind="staff", scopes=frozenset({"eldercare.elders:read"}), area=YINZHOU)
    refused = await suite.upload(xlsx(workbook([HEADER, *elder_rows(1, 1)])), who=reader)
    assert refused.status_code == 403

    mine = await suite.upload(xlsx(workbook([HEADER, *elder_rows(1, 1)])))
    other = Principal(subject="staff:other", kind="staff", scopes=frozenset({"eldercare.elders:write"}), area=YINZHOU)
    peek = await suite.http.get(f"{API}/spreadsheet-imports/{mine.json()['id']}", headers=suite.bearer(other))
    assert peek.status_code == 404

    unknown = await suite.upload(b"a,b\n1,2\n", kind="planets")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "kind"


async def test_caregivers_with_excel_dates_and_canteens_are_imported(suite):
    staff = suite.bearer("staff-yinzhou")
    provider = await suite.http.post(
        f"{API}/providers",
        json={
            "name": "百丈居家服务社",
            "credit_code": "91330212MA2GQ0000X",
            "area_code": BAIZHANG,
            "address": "百丈东路1号",
        },
        headers=staff,
    )
    assert provider.status_code == 201, provider.text
    provider_id = provider.json()["id"]
    expires = dt.date(2030, 6, 30)
    header = ["服务机构编号", "姓名", "身份证号", "证书编号", "证书等级", "证书有效期至"]
    rows = [
        [
            provider_id,
            "护理员甲",
            id_number(1, born=dt.date(1980, 1, 1)),
            "ZS0001",
            "初级",
            to_excel(expires),
        ],  # a serial
        [provider_id, "护理员乙", id_number(2, born=dt.date(1981, 1, 1)), "ZS0002", "中级", expires],  # a date cell
        [provider_id, "护理员丙", id_number(3, born=dt.date(1982, 1, 1)), "ZS0003", "高级", "2030年6月30日"],  # text
    ]
    result = await suite.imported(xlsx(workbook([header, *rows], sheet="护理员")), kind="caregivers")
    assert (result["status"], result["rows_created"]) == ("imported", 3), result
    caregivers = (await suite.http.get(f"{API}/caregivers", headers=staff)).json()["items"]
    assert {c["certificate_expires_on"] for c in caregivers} == {"2030-06-30"}
    assert {c["certificate_level"] for c in caregivers} == {"junior", "intermediate", "senior"}

    canteens = [["名称", "类型", "区划代码", "地址"], ["百丈老年食堂", "老年食堂", BAIZHANG, "百丈东路2号"]]
    made = await suite.imported(xlsx(workbook(canteens, sheet="助餐机构")), kind="canteens")
    assert (made["status"], made["rows_created"]) == ("imported", 1)
    again = await suite.imported(
        xlsx(workbook([*canteens, ["百丈助餐点", "助餐点", BAIZHANG, "百丈东路3号"]])), kind="canteens"
    )
    # The canteen is already there; the meal point names no supplier, which the create route refuses too.
    assert (again["status"] == "rejected" and again["problems"][0]["column"] == "C") or again["problems"][0]["row"] == 3


async def test_a_number_larger_than_any_record_id_is_a_problem_of_its_cell(suite):
    header = "服务机构编号,姓名,身份证号,证书编号,证书等级,证书有效期至"
    rows = [
        f"99999999999999999999,护理员甲,{id_number(1, born=dt.date(1980, 1, 1))},ZS0001,初级,2030-06-30",  # past 8 bytes
        f"3000000000,护理员乙,{id_number(2, born=dt.date(1981, 1, 1))},ZS0002,中级,2030-06-30",  # past 4
    ]
    content = "\r\n".join([header, *rows]).encode()
    answer = await suite.upload(content, kind="caregivers", filename="护理员.csv")
    assert answer.status_code == 202, answer.text
    assert await suite.drain() == [("spreadsheets.import", "succeeded")]  # not a job failing on the database
    result = (
        await suite.http.get(f"{API}/spreadsheet-imports/{answer.json()['id']}", headers=suite.bearer("staff-yinzhou"))
    ).json()
    assert result["status"] == "rejected", result
    assert [(p["row"], p["column"], p["field"]) for p in result["problems"]] == [
        (2, "A", "服务机构编号"),
        (3, "A", "服务机构编号"),
    ]
    assert all("too large" in p["message"] for p in result["problems"])

    canteens = [
        ["名称", "类型", "供餐单位编号", "区划代码", "地址"],
        ["百丈助餐点", "助餐点", 99999999999999999999, BAIZHANG, "百丈东路3号"],
    ]
    answer = await suite.upload(xlsx(workbook(canteens, sheet="助餐机构")), kind="canteens")
    assert await suite.drain() == [("spreadsheets.import", "succeeded")]
    result = (
        await suite.http.get(f"{API}/spreadsheet-imports/{answer.json()['id']}", headers=suite.bearer("staff-yinzhou"))
    ).json()
    assert result["status"] == "rejected" and (result["problems"][0]["row"], result["problems"][0]["column"]) == (
        2,
        "C",
    )


async def exported(suite, who, **body) -> tuple[dict, list[tuple]]:
    asked = await suite.http.post(f"{API}/spreadsheet-exports", json=body, headers=suite.bearer(who))
    assert asked.status_code == 202, asked.text
    await suite.drain()
    done = (await suite.http.get(f"{API}/spreadsheet-exports/{asked.json()['id']}", headers=suite.bearer(who))).json()
    assert done["status"] == "ready", done
    file = await suite.http.get(done["download"], headers=suite.bearer(who))
    assert file.status_code == 200 and file.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(file.content), read_only=True).active
    return done, list(sheet.iter_rows(values_only=True))


async def test_an_export_is_masked_unless_a_purpose_is_stated_with_the_pii_scope_and_then_audited(suite):
    await suite.imported(xlsx(workbook([HEADER, *elder_rows(1, 3)])))

    masked, rows = await exported(suite, "staff-yinzhou", kind="elders")
    assert masked["masked"] and masked["rows_total"] == 3
    assert rows[0][:3] == ("编号", "姓名", "身份证号（脱敏）") and len(rows) == 4
    assert all("*" in row[2] and "*" in row[6] for row in rows[1:])
    assert not any(id_number(1) in str(cell) for row in rows for cell in row)

    no_scope = Principal(subject="staff:plain", kind="staff", scopes=frozenset({"eldercare.elders:read"}), area=YINZHOU)
    refused = await suite.http.post(
        f"{API}/spreadsheet-exports", json={"kind": "elders", "purpose": "核对名单"}, headers=suite.bearer(no_scope)
    )
    assert refused.status_code == 403

    clear, rows = await exported(suite, "staff-yinzhou", kind="elders", purpose="年度高龄津贴核对")
    assert not clear["masked"] and rows[0][-2:] == ("身份证号", "手机")
    assert {row[-2] for row in rows[1:]} == {id_number(n) for n in range(1, 4)}

    auditor = Principal(
        subject="staff:auditor", kind="staff", scopes=frozenset({"eldercare.pii_reads:read"}), area=YINZHOU
    )
    audit = await suite.http.get(f"{API}/pii-reads", params={"subject_type": "elder"}, headers=suite.bearer(auditor))
    reads = audit.json()["items"]
    assert len(reads) == 3 and {r["purpose"] for r in reads} == {"年度高龄津贴核对"}
    assert {r["reader"] for r in reads} == {"staff:yinzhou-demo"}

    # Another staff member cannot see or download it.
    other = Principal(subject="staff:other", kind="staff", scopes=frozenset({"eldercare.elders:read"}), area=YINZHOU)
    assert (await suite.http.get(clear["download"], headers=suite.bearer(other))).status_code == 404


async def test_visits_and_orders_export_what_the_caller_may_see(suite):
    for kind in ("visits", "orders"):
        done, rows = await exported(suite, "staff-yinzhou", kind=kind)
        assert done["rows_total"] == 0 and len(rows) == 1  # the header alone: nothing ordered yet
    haishu = Principal(
        subject="staff:haishu", kind="staff", scopes=frozenset({"eldercare.elders:read"}), area=division_code_outside()
    )
    outside = await suite.http.post(
        f"{API}/spreadsheet-exports", json={"kind": "elders", "area_code": BAIZHANG}, headers=suite.bearer(haishu)
    )
    assert outside.status_code == 403


@pytest.mark.postgresql_only
async def test_the_same_file_sent_at_once_from_many_tabs_is_one_import(suite):
    content = xlsx(workbook([HEADER, *elder_rows(1, 50)]))
    answers = await asyncio.gather(*(suite.upload(content) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [202]
    assert len({a.json()["id"] for a in answers}) == 1
    ran = await suite.drain()
    assert ran == [("spreadsheets.import", "succeeded")]
    assert len(await elders_seen(suite)) == 50
    # And the next ordinary request still works.
    assert (await suite.upload(xlsx(workbook([HEADER, *elder_rows(51, 1)])))).status_code == 202


class DiesMidImport(Worker):
    """A worker process that dies (is killed) once the import has committed its first chunk."""

    async def renew(self, job_id: int, *, progress: int | None = None) -> None:
        if progress is not None and progress > 50:  # the creating half has begun
            raise asyncio.CancelledError
        await super().renew(job_id, progress=progress)


async def test_an_import_cut_short_by_a_dead_worker_is_taken_over_and_creates_each_person_once(suite, moved_clock):
    count = 2000  # four chunks
    answer = await suite.upload(xlsx(workbook([HEADER, *elder_rows(1, count)])))
    path = f"{API}/spreadsheet-imports/{answer.json()['id']}"
    staff = suite.bearer("staff-yinzhou")
    doomed = DiesMidImport(suite.databases["eldercare"], suite.tasks["eldercare"], name="doomed")
    with contextlib.suppress(asyncio.CancelledError):
        await doomed.run_until_idle()
    halfway = (await suite.http.get(path, headers=staff)).json()
    assert halfway["status"] == "importing" and 0 < halfway["rows_created"] < count

    moved_clock(dt.timedelta(minutes=2))  # its lease runs out: another worker takes the job over
    assert await suite.drain() == [("spreadsheets.import", "succeeded")]
    done = (await suite.http.get(path, headers=staff)).json()
    assert (done["status"], done["rows_created"], done["rows_present"]) == ("imported", count, 0)
    listed = await suite.http.get(f"{API}/elders", params={"limit": 1}, headers=staff)
    assert listed.status_code == 200
