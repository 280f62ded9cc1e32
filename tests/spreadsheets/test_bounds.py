"""The bounds a workbook is read within, beside the text runs' (test_text_runs.py)."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zipfile

import pytest
from openpyxl.xml.functions import fromstring

from shared import schemas, spreadsheets
from shared.spreadsheets import Column, Layout, SpreadsheetRefused, open_sheet
from tests.spreadsheets.conftest import repacked, workbook, xlsx
from tests.spreadsheets.test_text_runs import MAIN, with_shared_string


def test_the_integer_bound_is_the_schemas_one():
    # One constant for what an INTEGER column holds: the routes' 422 (shared.schemas, shared.errors) and an import's
    # "too large" problem move together if it ever changes.
    assert spreadsheets.MAX_INTEGER is schemas.MAX_INTEGER


# --- the parts openpyxl reads whole -------------------------------------------------------------------------------
# openpyxl parses the content types, the workbook part and its relationships, the styles and the document properties
# as one tree each, and keeps the theme as bytes, before a row is read: 4 MiB of `<xf/>` in the styles took it to
# about 500 MiB. A part of tiny tags has no long run of text, and 400 MB of it compress to 2 MB.

LAYOUT = Layout("老年人", (Column("id_number", ("身份证号",), required=True), Column("name", ("姓名",), required=True)))
STYLES_NS = b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def base() -> bytes:
    return xlsx(workbook([["身份证号", "姓名"], ["1", "张三"]]))


def with_big_part(
    name: str, head: bytes, repeated: bytes, times: int, tail: bytes = b"", content: bytes | None = None
) -> bytes:
    """The base workbook (or `content`) with `name` replaced by head + repeated × times + tail, streamed into the zip
    (quickly deflated: 400 MB of a short tag take about 2 s and 2 MB)."""
    source = zipfile.ZipFile(io.BytesIO(content or base()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for info in source.infolist():
            if info.filename != name:
                archive.writestr(info.filename, source.read(info))
        with archive.open(name, "w", force_zip64=True) as part:
            part.write(head)
            block = repeated * max(1, (1 << 20) // len(repeated))
            whole, rest = divmod(times, (1 << 20) // len(repeated) or 1)
            for _ in range(whole):
                part.write(block)
            part.write(repeated * rest + tail)
    return out.getvalue()


def refusal(content: bytes) -> tuple[str, float, int]:
    """open_sheet's refusal: its message, the seconds it took and the peak of Python's memory meanwhile."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SpreadsheetRefused) as refused:
            open_sheet(content, LAYOUT)
        return str(refused.value), time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def read(content: bytes) -> list[list]:
    sheet = open_sheet(content, LAYOUT)
    try:
        return [[cell.value for cell in cells] for _, cells in sheet.rows]
    finally:
        sheet.close()


@pytest.fixture(scope="module")
def styles_of_400_mb() -> bytes:
    return with_big_part("xl/styles.xml", STYLES_NS, b"<a/>", 100_000_000, b"</styleSheet>")


def test_a_styles_part_of_400_mb_of_tiny_tags_is_refused_at_once_in_little_memory(styles_of_400_mb):
    assert len(styles_of_400_mb) < 4 * 2**20  # what the upload's 32 MiB and the 512 MiB unpacked let through
    message, seconds, peak = refusal(styles_of_400_mb)
    assert "xl/styles.xml" in message and "far larger than a workbook's" in message and "tags" in message
    # A chunk or two inflated and counted, not the part parsed (openpyxl: about 120 bytes a tag, 48 GB here)
    assert peak < 8 * 2**20, peak
    assert seconds < 5, seconds  # about 0.1 s; the bound is for a busy machine


def test_a_directory_that_understates_a_part_does_not_let_more_through(styles_of_400_mb):
    # The zip's directory says 1 KiB; zipfile stops there and finds the checksum wrong: damaged, read no further.
    lying = understated(styles_of_400_mb, "xl/styles.xml", 1024)
    message, seconds, peak = refusal(lying)
    assert "damaged" in message and peak < 8 * 2**20 and seconds < 5, (message, peak, seconds)


def understated(content: bytes, member: str, size: int) -> bytes:
    """The workbook with `member`'s uncompressed size in the zip's central directory set to `size`."""
    data = bytearray(content)
    at = data.index(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(member)] != member.encode():
        at = data.index(b"PK\x01\x02", at + 4)
    assert data[at + 24 : at + 28] != b"\xff\xff\xff\xff"  # under 4 GiB: the size is in the header, not zip64's
    data[at + 24 : at + 28] = struct.pack("<I", size)
    return bytes(data)


@pytest.mark.parametrize(
    ("name", "head", "repeated", "times", "tail", "over"),
    [
        # Counted as inflated: the tags of 1.2 MiB of `<a/>` (300,000), and the bytes of 9 MiB of tags with text.
        ("xl/styles.xml", STYLES_NS, b"<a/>", 300_000, b"</styleSheet>", "tags"),
        ("xl/styles.xml", STYLES_NS, b"<a>" + b"x" * 100 + b"</a>", 90_000, b"</styleSheet>", "MiB"),
        # Read as bytes by openpyxl, not as XML: measured all the same.
        ("xl/theme/theme1.xml", b"", b"\0" * 1024, 9 * 1024, b"", "MiB"),
        ("[Content_Types].xml", b"", b"<a/>", 300_000, b"", "tags"),
        ("xl/_rels/workbook.xml.rels", b"", b"<a/>", 300_000, b"", "tags"),
        ("docProps/core.xml", b"", b"<a/>", 300_000, b"", "tags"),
    ],
)
def test_each_part_openpyxl_reads_whole_is_bounded_naming_the_part(name, head, repeated, times, tail, over):
    message, _, peak = refusal(with_big_part(name, head, repeated, times, tail))
    assert name in message and "far larger than a workbook's" in message and over in message, message
    assert peak < 8 * 2**20, peak


def test_a_part_declared_larger_than_the_bound_is_refused_from_the_directory():
    content = with_big_part("xl/workbook.xml", b"", b"\0" * 1024, 20 * 1024)  # 20 MiB declared
    inflated = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = real_read(self, n)
        inflated.append(len(data))
        return data

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zipfile.ZipExtFile, "read", counting_read)
        message, _, _ = refusal(content)
    assert "xl/workbook.xml" in message and "20.0 MiB" in message, message
    assert sum(inflated) < 1 << 20  # the content types only: the workbook part was refused unread


def test_the_workbook_part_the_content_types_name_is_the_one_bounded():
    # openpyxl finds the workbook part by its content type, not by its usual name: another name is bounded as well.
    content = repacked(
        with_big_part("xl/book.xml", b"", b"<a/>", 300_000),
        {"[Content_Types].xml": lambda d: d.replace(b"/xl/workbook.xml", b"/xl/book.xml")},
    )
    message, _, _ = refusal(content)
    assert "xl/book.xml" in message and "tags" in message, message


def test_what_excel_writes_at_its_own_limits_is_within_the_bounds():
    # 64,000 cell formats (Excel's limit), each with an alignment: about 6 MB and 128,000 tags in the styles. (Only
    # the bounds are asked here: openpyxl takes seconds to read such styles.)
    xf = b'<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1"><alignment horizontal="left"/></xf>'
    styles = zipfile.ZipFile(io.BytesIO(base())).read("xl/styles.xml")
    start, end = styles.index(b"<cellXfs"), styles.index(b"</cellXfs>") + len(b"</cellXfs>")
    bloated = styles[:start] + b'<cellXfs count="64000">' + xf * 64_000 + b"</cellXfs>" + styles[end:]
    assert len(bloated) > 6_000_000 and bloated.count(b"<") > 128_000
    assert "xl/worksheets/sheet1.xml" in spreadsheets._scan_parts(
        repacked(base(), {"xl/styles.xml": lambda _: bloated})
    )


def test_an_external_link_is_not_read():
    # A link to another workbook holds a cached copy of its sheets (openpyxl: "can be very big"); it is not read.
    link = b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><externalBook/>'
    content = repacked(
        with_big_part("xl/externalLinks/externalLink1.xml", link, b"<a/>", 300_000, b"</externalLink>"),
        {
            "xl/workbook.xml": lambda d: d.replace(
                b"</sheets>",
                b'</sheets><externalReferences><externalReference xmlns:r="http://schemas.openxmlformats.org/'
                b'officeDocument/2006/relationships" r:id="rId90"/></externalReferences>',
            ),
            "xl/_rels/workbook.xml.rels": lambda d: d.replace(
                b"</Relationships>",
                b'<Relationship Id="rId90" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                b'externalLink" Target="externalLinks/externalLink1.xml"/></Relationships>',
            ),
        },
    )
    tracemalloc.start()
    try:
        assert read(content) == [["1", "张三"]]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak  # read, the link's 300,000 tags took openpyxl past 30 MiB


def test_the_content_types_are_checked_before_they_are_parsed_to_find_the_workbook_part(monkeypatch):
    parsed: list[bytes] = []
    monkeypatch.setattr(spreadsheets, "fromstring", lambda xml: parsed.append(xml) or fromstring(xml))
    doctype = '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY e "' + "a" * 1000 + '">]>'
    for manifest, reason in (
        (lambda d: doctype.encode() + d, "declares a document type"),
        (lambda d: (doctype + d.decode()).encode("utf-16"), "declares a document type"),
        (lambda d: b"<?xml version='1.0' encoding='base64'?>" + d, r"in an encoding \(base64\)"),
    ):
        with pytest.raises(SpreadsheetRefused, match=reason) as refused:
            open_sheet(repacked(base(), {"[Content_Types].xml": manifest}), LAYOUT)
        assert "[Content_Types].xml" in str(refused.value) and parsed == []
    # In UTF-16 it is read as well, and the workbook part it names is bounded.
    content = repacked(
        with_big_part("xl/book.xml", b"", b"<a/>", 300_000),
        {"[Content_Types].xml": lambda d: d.decode().replace("/xl/workbook.xml", "/xl/book.xml").encode("utf-16")},
    )
    message, _, _ = refusal(content)
    assert "xl/book.xml" in message and "tags" in message, message


# --- the shared strings -------------------------------------------------------------------------------------------
# openpyxl keeps every shared string in a list (about 80 bytes each, however short: 40 MB of `<si><t>a</t></si>` took
# 177 MiB); the import cannot use more than its rows × its layout's columns, and is refused past that, counted as the
# part is inflated.

A_STRING = b"<si><t>a</t></si>"


def with_strings(times: int, repeated: bytes = A_STRING) -> bytes:
    """The base workbook with shared strings: 张三 (used by B3), then `repeated` × `times` (used by no cell)."""
    head = b'<sst xmlns="' + MAIN + b'" xmlns:x="' + MAIN + b'"><si><t>' + "张三".encode() + b"</t></si>"
    return with_big_part(
        "xl/sharedStrings.xml", head, repeated, times, b"</sst>", content=with_shared_string("张三".encode())
    )


def test_the_cap_is_the_cells_the_import_can_use():
    # 200,010 rows of the layout's 2 columns, and the 10 rows the header is looked for in at their 200 columns.
    assert spreadsheets.max_shared_strings(LAYOUT) == 200_010 * 2 + 10 * 200 == 402_020


def test_shared_strings_past_the_cap_are_refused_at_once_in_little_memory():
    content = with_strings(spreadsheets.max_shared_strings(LAYOUT))  # one more than the cap, with 张三
    assert len(content) < 1 << 20
    message, seconds, peak = refusal(content)
    assert "xl/sharedStrings.xml" in message and "more than 402,020 strings" in message, message
    # Counted as inflated (openpyxl: about 30 MiB and seconds for these, gigabytes within the unpacked limit)
    assert peak < 8 * 2**20, peak
    assert seconds < 5, seconds


@pytest.mark.parametrize("chunk", [3, 7, 1 << 20])
@pytest.mark.parametrize("repeated", [A_STRING, b"<x:si><x:t>a</x:t></x:si>", b"<si\n/>", b"<si\t><t>a</t></si >"])
def test_a_workbook_at_the_cap_is_read_and_one_string_more_is_refused(monkeypatch, chunk, repeated):
    # The cap lowered (the worker's figure takes openpyxl seconds to read at it), and chunks that cut the tags.
    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 1000)
    monkeypatch.setattr(spreadsheets, "_CHUNK", chunk)
    cap = spreadsheets.max_shared_strings(LAYOUT)
    assert cap == 1010 * 2 + 2000
    assert read(with_strings(cap - 1, repeated)) == [["1", "张三"], [None, "张三"]]
    message, _, _ = refusal(with_strings(cap, repeated))
    assert "xl/sharedStrings.xml" in message and f"more than {cap:,} strings" in message, message


def test_the_shared_strings_part_the_content_types_name_is_the_one_counted(monkeypatch):
    # openpyxl finds the shared strings by their content type, not by their usual name: another name is counted too.
    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 1000)
    source = zipfile.ZipFile(io.BytesIO(with_strings(spreadsheets.max_shared_strings(LAYOUT))))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            data = source.read(name)
            if name == "[Content_Types].xml":
                data = data.replace(b"/xl/sharedStrings.xml", b"/xl/text.xml")
            elif name == "xl/_rels/workbook.xml.rels":
                data = data.replace(b'Target="sharedStrings.xml"', b'Target="text.xml"')
            archive.writestr("xl/text.xml" if name == "xl/sharedStrings.xml" else name, data)
    message, _, _ = refusal(out.getvalue())
    assert "xl/text.xml" in message and "strings" in message, message
