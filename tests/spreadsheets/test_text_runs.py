"""A workbook is small and its cell's text huge: 400 MB of one letter compress to 400 KB, and an XML parser holds an
element's whole text in memory (ElementTree reading a sheet, openpyxl reading the shared strings), which took the
import worker past its memory limit. Each part of a workbook is now read as bytes in chunks before any parser sees
it, and a run of text far longer than a cell may hold is refused."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections.abc import Callable

import pytest

from shared import spreadsheets
from shared.spreadsheets import Column, Layout, SpreadsheetRefused, open_sheet
from tests.spreadsheets.conftest import repacked, with_shared_strings, workbook, xlsx

LAYOUT = Layout("老年人", (Column("id_number", ("身份证号",), required=True), Column("name", ("姓名",), required=True)))
SHEET = "xl/worksheets/sheet1.xml"
MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def base() -> bytes:
    return xlsx(workbook([["身份证号", "姓名"], ["1", "张三"]]))


def with_row(xml: bytes, content: bytes | None = None) -> bytes:
    """The base workbook with a third row of the sheet's XML added as it is."""
    return repacked(
        content or base(), {SHEET: lambda d: d.replace(b"</sheetData>", b'<row r="3">' + xml + b"</row></sheetData>")}
    )


def with_inline_cell(text: bytes) -> bytes:
    return with_row(b'<c r="B3" t="inlineStr"><is><t>' + text + b"</t></is></c>")


def with_shared_string(text: bytes) -> bytes:
    """The base workbook with a shared strings part (as Excel writes text) holding `text`, used in B3."""
    sheet = b'<c r="B3" t="s"><v>0</v></c>'
    return with_shared_strings(
        with_row(sheet),
        b'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="'
        + MAIN
        + b'" count="1" uniqueCount="1"><si><t>'
        + text
        + b"</t></si></sst>",
    )


def third_row(content: bytes) -> list:
    sheet = open_sheet(content, LAYOUT)
    try:
        return [cell.value for number, cells in sheet.rows if number == 3 for cell in cells]
    finally:
        sheet.close()


@pytest.mark.parametrize(
    ("build", "part"),
    [(with_inline_cell, "xl/worksheets/sheet1.xml"), (with_shared_string, "xl/sharedStrings.xml")],
    ids=["inline", "shared"],
)
def test_a_cell_of_50_mb_in_a_small_file_is_refused_in_little_memory(build, part):
    content = build(b"a" * 50_000_000)
    assert len(content) < 200_000  # what the upload's size and the zip's unpacked size let through

    tracemalloc.start()
    try:
        with pytest.raises(SpreadsheetRefused) as refused:
            open_sheet(content, LAYOUT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "far more text in one place than a cell may" in str(refused.value) and part in str(refused.value)
    assert peak < 8 * 2**20, peak  # a few chunks, not the cell (reading it held 50 MB several times over)


def test_what_excel_saves_is_read_as_before_and_the_bound_is_far_above_it():
    longest = "中" * 32_767  # Excel's own limit for a cell, each character written as a character reference
    as_references = b"&#x4E2D;" * 32_767
    assert third_row(with_inline_cell(as_references)) == [None, longest]
    assert third_row(with_shared_string(as_references)) == [None, longest]

    # Parts that are no XML are not measured: a large picture pasted as EMF (its first bytes 01 00 would be UTF-16 to
    # an XML parser, which stops at the first character) and printer settings (a device name in UTF-16).
    pictures = {
        "xl/media/image1.emf": b"\x01\x00\x00\x00" + b"\xff\xff\xff\x00" * 1_000_000,
        "xl/printerSettings/printerSettings1.bin": "HP LaserJet".encode("utf-16-le") + b"\x00" * 3_000_000,
        "xl/media/image2.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 3_000_000,
    }
    assert third_row(repacked(with_inline_cell(b"\xe5\xbc\xa0"), {}, pictures)) == [None, "张"]

    with pytest.raises(SpreadsheetRefused, match="far more text"):
        open_sheet(with_inline_cell(as_references * 5), LAYOUT)


@pytest.mark.parametrize("shift", range(4))
def test_a_run_over_several_chunks_is_counted_whole(monkeypatch, shift):
    """The parts are read in chunks of 1 KiB here, against a bound of 4 KiB: a run over it spans several chunks."""
    monkeypatch.setattr(spreadsheets, "_CHUNK", 1024)
    monkeypatch.setattr(spreadsheets, "MAX_TEXT_RUN_BYTES", 4096)
    pad = b"x" * shift
    assert third_row(with_inline_cell(pad + b"a" * 3000)) == [None, "x" * shift + "a" * 3000]
    assert third_row(with_inline_cell(b"<![CDATA[" + pad + b"<" * 3000 + b"]]>")) == [None, "x" * shift + "<" * 3000]

    too_long = [
        b"a" * 5000 + pad,
        pad + b"a" * 2500 + b"&lt;" + b"a" * 2500,
        # markup that may hold "<" (a CDATA section, a comment, an instruction) is text to the bound, not tags
        pad + b"<![CDATA[" + b"<a>" * 2000 + b"]]>",
        pad + b"a" * 2000 + b"<!--" + b"<" * 1500 + b"-->" + b"a" * 1500,
        pad + b"<?x " + b"<" * 5000 + b"?>",
    ]
    for text in too_long:
        with pytest.raises(SpreadsheetRefused, match="far more text"):
            open_sheet(with_inline_cell(text), LAYOUT)
        with pytest.raises(SpreadsheetRefused, match="far more text"):
            open_sheet(with_shared_string(text), LAYOUT)


def refused(chunks: list[bytes]) -> bool:
    runs = spreadsheets._TextRuns()
    try:
        for chunk in chunks:
            runs.feed(chunk)
        runs.feed(b"", final=True)
    except spreadsheets._TooLong:
        return True
    return False


# Each at the bound (40 bytes from a tag's "<" to the next) and one byte past it: a "<" inside a CDATA section, a
# comment or an instruction is text, and so is the markup around it.
AT_THE_BOUND = [
    (b"<a><b>" + b"x" * 38 + b"</b></a>", b"<a><b>" + b"x" * 39 + b"</b></a>"),
    (b"<a><t><![CDATA[" + b"<" * 26 + b"]]></t></a>", b"<a><t><![CDATA[" + b"<" * 27 + b"]]></t></a>"),
    (
        b"<a><t>" + b"x" * 20 + b"<!--<-->" + b"x" * 10 + b"</t>",
        b"<a><t>" + b"x" * 21 + b"<!--<-->" + b"x" * 10 + b"</t>",
    ),
    (
        b'<?xml version="1.0"?><a><?pi ' + b"<" * 31 + b"?></a>",
        b'<?xml version="1.0"?><a><?pi ' + b"<" * 32 + b"?></a>",
    ),
    (
        b'<a><c r="A1" t="inlineStr" s="1" x="' + b"y" * 6 + b'">',
        b'<a><c r="A1" t="inlineStr" s="1" x="' + b"y" * 7 + b'">',
    ),
]


@pytest.mark.parametrize(("fits", "over"), AT_THE_BOUND)
def test_where_a_chunk_ends_does_not_change_the_run_measured(monkeypatch, fits, over):
    monkeypatch.setattr(spreadsheets, "MAX_TEXT_RUN_BYTES", 40)
    for xml, expected in ((fits, False), (over, True)):
        assert refused([xml]) is expected
        for cut in range(len(xml) + 1):
            assert refused([xml[:cut], xml[cut:]]) is expected, (xml, cut)
            assert refused([xml[:cut], xml[cut : cut + 3], xml[cut + 3 :]]) is expected, (xml, cut)
        assert refused([xml[i : i + 1] for i in range(len(xml))]) is expected  # a byte at a time


def test_a_document_type_declaration_is_refused_before_its_entities_expand():
    # One entity of 1 KB used a thousand times: a megabyte of text from a few kilobytes of markup, past any bound
    # on the bytes between tags. A workbook's XML never declares a document type (OPC forbids it).
    sheet = repacked(
        base(),
        {SHEET: lambda d: d.replace(b"<worksheet", b'<!DOCTYPE w [<!ENTITY e "' + b"a" * 1000 + b'">]><worksheet', 1)},
    )
    with pytest.raises(SpreadsheetRefused, match="declares a document type"):
        open_sheet(with_row(b'<c r="B3" t="inlineStr"><is><t>' + b"&e;" * 1000 + b"</t></is></c>", sheet), LAYOUT)


def test_a_part_in_utf16_is_measured_by_its_characters_not_its_bytes(monkeypatch):
    # "㰼" is U+3C3C: in UTF-16 its two bytes are each a "<", so the part's bytes show a tag at every one.
    monkeypatch.setattr(spreadsheets, "MAX_TEXT_RUN_BYTES", 4096)

    def in_utf16(text: str) -> Callable[[bytes], bytes]:
        row = f'<row r="3"><c r="B3" t="inlineStr"><is><t>{text}</t></is></c></row></sheetData>'
        return lambda d: d.decode().replace("</sheetData>", row).encode("utf-16")  # with its byte order mark

    assert third_row(repacked(base(), {SHEET: in_utf16("㰼" * 1000)})) == [None, "㰼" * 1000]
    with pytest.raises(SpreadsheetRefused, match="far more text"):
        open_sheet(repacked(base(), {SHEET: in_utf16("㰼" * 5000)}), LAYOUT)


def flipped(content: bytes, member: str) -> bytes:
    """The workbook with a bit of `member`'s compressed data flipped: its deflate stream or its checksum breaks."""
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(content)
    data[start + info.compress_size // 2] ^= 0x10
    return bytes(data)


def encrypted(content: bytes, member: str) -> bytes:
    """The workbook with `member` marked encrypted in the zip's directory (zipfile asks for a password)."""
    data = bytearray(content)
    at = data.index(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(member)] != member.encode():
        at = data.index(b"PK\x01\x02", at + 4)
    data[at + 8] |= 1
    return bytes(data)


@pytest.mark.parametrize("member", ["xl/sharedStrings.xml", "xl/styles.xml"])
@pytest.mark.parametrize("damage", [flipped, encrypted])
def test_a_damaged_part_is_refused_as_a_damaged_workbook_whatever_part_it_is(member, damage):
    content = with_shared_string("张桂英".encode() * 20_000)
    with pytest.raises(SpreadsheetRefused, match="the workbook is damaged"):
        open_sheet(damage(content, member), LAYOUT)
