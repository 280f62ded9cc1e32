"""Spreadsheets staff send and receive: reading .xlsx and .csv a row at a time, checking each row against a
service's pydantic schema, and writing .xlsx a row at a time. Synchronous and CPU-bound: the worker calls it in a
thread (`asyncio.to_thread`), never the API's event loop.

Reading is bounded before it starts: a file is a zip (xlsx) or text (CSV) or it is refused; a zip whose members
would unpack to more than `MAX_UNPACKED_BYTES` is refused from its directory, before any byte is inflated (a zip
bomb), and openpyxl reads each member through `zipfile`, which stops at the size the directory declares. Then,
before any XML parser sees it, each member is read once as bytes in chunks: a run of text between two tags longer
than `MAX_TEXT_RUN_BYTES` is refused (a parser holds an element's whole text in memory, and one cell of 400 MB
compresses to 400 KB), and so is a document type declaration (its entities would expand). The parts openpyxl parses
whole before the rows (content types, workbook, its relationships, styles, theme, properties) are refused past
`MAX_WHOLE_PART_BYTES` or `MAX_WHOLE_PART_TAGS`, by the directory's size and by what they inflate to (400 MB of tiny
tags have no long text run). Rows are streamed (the sheet's XML parsed an element at a time), so memory does not grow
with the sheet; the shared strings, which openpyxl keeps in a list, are refused past the most the layout's rows and
columns can use (`max_shared_strings`), counted as they are inflated.

What a staff member's sheet does that a program's would not, and the answer each gets:
- the wrong sheet: the sheet is found by its header row (the one whose headers name the required columns);
  none matches, and the file is refused naming the sheets it has and the columns that are missing;
- merged cells: each merged range over data rows is a problem of its first row ("unmerge and fill each row");
- formulas: the cell is a problem ("paste the value, not the formula"): a formula's value is whatever the
  program that saved the file last computed, or nothing;
- dates as numbers (Excel's serial day numbers) and dates as text (`1955-03-15`, `1955/3/15`, `1955年3月15日`)
  become dates in a date column;
- long digit strings stored as numbers (an ID number typed into a General cell) have lost their last digits in
  Excel already: a problem asking for the column as text;
- CSV in GBK (what Excel on a Chinese Windows saves) as well as UTF-8 (with or without a BOM).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import itertools
import posixpath
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.etree.ElementTree import iterparse

from openpyxl import Workbook
from openpyxl.packaging.manifest import Manifest
from openpyxl.reader import excel as openpyxl_reader
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.xml.constants import (
    ARC_CONTENT_TYPES,
    ARC_CORE,
    ARC_CUSTOM,
    ARC_SHARED_STRINGS,
    ARC_STYLE,
    ARC_THEME,
    ARC_WORKBOOK,
    SHARED_STRINGS,
)
from openpyxl.xml.functions import fromstring
from pydantic import BaseModel, ValidationError

from shared.schemas import MAX_INTEGER  # what an integer column holds (PostgreSQL's 4 bytes): a record id, a count

# Assumptions with neutral defaults (no figure in the domain brief): a street office's register of 100,000 people
# is about 6 MB as .xlsx; the bounds leave room for it and refuse what is far beyond.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_ZIP_MEMBERS = 2000
MAX_ROWS = 200_000
MAX_COLUMNS = 200
MAX_CELL_CHARS = 2000
# The longest run of a workbook's XML between the starts of two tags (a cell's text with its tag): ElementTree and
# openpyxl's shared strings hold an element's whole text in memory, and 400 MB of one character compress to 400 KB.
# A cell we import is at most MAX_CELL_CHARS characters, each at most 10 bytes even as a character reference
# (&#x10FFFF;): 20 KB; Excel itself stops a cell at 32,767 characters (under 330 KB so written). 1 MiB is far above.
MAX_TEXT_RUN_BYTES = 1 << 20
# The parts openpyxl reads whole before the rows (the content types, the workbook part and its relationships, the
# styles, the theme, the document properties: `_whole_parts`) are parsed as one tree (ElementTree's `fromstring`) or,
# the theme, kept as bytes, so their memory grows with their size: 4 MiB of `<xf/>` in xl/styles.xml took openpyxl
# to 496 MiB and 17 s of CPU. Excel writes kilobytes there; the most it writes is a styles part at its own limit of
# 64,000 cell formats, about 6 MB and 130,000 tags. Each of those parts is refused past 8 MiB or 200,000 tags (a tag:
# a "<"), which bounds openpyxl's work on one part at about 120 MiB and 2.5 s (measured: 200,000 `<xf/>`, the worst
# case); the rows' parts (sheets, shared strings) are streamed and have their own bounds.
MAX_WHOLE_PART_BYTES = 8 << 20
MAX_WHOLE_PART_TAGS = 200_000
MAX_PROBLEMS_LISTED = 1000  # more are counted, not listed: the first thousand say what is wrong with a file
HEADER_SEARCH_ROWS = 10  # a title row or two above the header is common; the header is looked for in these

Format = Literal["xlsx", "csv"]


class SpreadsheetRefused(Exception):
    """The file as a whole cannot be read as the sheet asked for: the reason is for the person who sent it."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one row (and column, when it is one cell's)."""

    row: int | None  # the row number as the spreadsheet program shows it (1 = the first row)
    column: str | None  # the column letter (A, B, …) as the program shows it
    field: str | None  # the header of that column
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Column:
    """A column a sheet may have: the schema field it fills, and the headers it is known by."""

    field: str
    headers: tuple[str, ...]  # the Chinese header staff write first, then the field's own name
    required: bool = False
    kind: Literal["text", "date", "bool", "number"] = "text"
    # A digit string that must stay text (an ID number, a phone): a number there lost digits in Excel.
    digits: bool = False


@dataclass(frozen=True)
class Layout:
    """The columns of one kind of sheet, and its preferred sheet name. A sheet of groups (a household, a row per
    member) names the column that groups consecutive rows (`group_by`) and the schema's list the rows fill
    (`members`)."""

    sheet: str
    columns: tuple[Column, ...]
    group_by: str | None = None
    members: str | None = None

    def header_of(self, field_name: str) -> str:
        return next(c.headers[0] for c in self.columns if c.field == field_name)

    def match(self, headers: Sequence[Any]) -> dict[int, Column]:
        """Which column (0-based index) holds which field, by header text."""
        by_header = {h.strip().lower(): c for c in self.columns for h in c.headers}
        found: dict[int, Column] = {}
        for index, header in enumerate(headers):
            column = by_header.get(str(header).strip().lower()) if header is not None else None
            if column is not None and column not in found.values():
                found[index] = column
        return found

    def missing(self, found: dict[int, Column]) -> list[Column]:
        return [c for c in self.columns if c.required and c not in found.values()]


# openpyxl streams the shared strings (`xl/sharedStrings.xml`, a workbook's text cells) but keeps every string in a
# list, about 80 bytes each however short: 40 MB of `<si><t>a</t></si>` took 177 MiB and 24 s, and the 512 MiB
# unpacked allow 30 million of them, gigabytes. An import cannot use more distinct strings than the cells it reads:
# at most MAX_ROWS + HEADER_SEARCH_ROWS rows, of which it uses the layout's columns (11 for the elders, 13 for the
# households' members), plus whatever the first HEADER_SEARCH_ROWS rows hold up to MAX_COLUMNS (titles, the headers
# of columns not imported). `max_shared_strings` is that figure for a layout (2.6 million for the households, about
# 200 MiB in openpyxl); the scan counts the `<si` tags as the part is inflated and refuses the workbook past it.
# Another sheet's text shares the table: such a workbook is refused too, and asked for the sheet alone.
def max_shared_strings(layout: Layout) -> int:
    """The most distinct strings an import of `layout` can use: the cap on the shared strings."""
    return (MAX_ROWS + HEADER_SEARCH_ROWS) * len(layout.columns) + HEADER_SEARCH_ROWS * MAX_COLUMNS


# --- what the file is ----------------------------------------------------------------------------------------


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def sniff(content: bytes) -> Format:
    """xlsx (a zip) or CSV (text without NUL bytes); anything else is refused."""
    if content.startswith(b"PK\x03\x04"):
        return "xlsx"
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise SpreadsheetRefused("this is an old Excel file (.xls): save it as .xlsx (Excel 2007 or later) or CSV")
    head = content[:8192]
    if not content.strip() or b"\x00" in head:
        raise SpreadsheetRefused("the file is not a spreadsheet: send an .xlsx workbook or a CSV file")
    if head.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        raise SpreadsheetRefused("the file is not a spreadsheet: send an .xlsx workbook or a CSV file")
    return "csv"


def check_zip(content: bytes) -> None:
    """Refuse a workbook from its directory alone, nothing inflated (the upload does it too, cheaply): damaged, too
    many parts, more than MAX_UNPACKED_BYTES unpacked, no workbook or content types, encrypted, or a part openpyxl
    reads whole declared past MAX_WHOLE_PART_BYTES."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    # A directory zipfile cannot take: not a zip, cut short, or a zip version it does not implement (NotImplementedError)
    except (zipfile.BadZipFile, NotImplementedError, ValueError, OverflowError, EOFError):
        raise SpreadsheetRefused("the file is a damaged or incomplete workbook: save it again and resend") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise SpreadsheetRefused(f"the workbook has {len(members)} parts; a spreadsheet has far fewer")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise SpreadsheetRefused(
            f"the workbook would unpack to {unpacked // 2**20} MiB, over the limit of {MAX_UNPACKED_BYTES // 2**20} "
            "MiB: split it into smaller files"
        )
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names or ARC_CONTENT_TYPES not in names:  # openpyxl needs both
        raise SpreadsheetRefused("the file is a zip but not an Excel workbook: send an .xlsx workbook or a CSV file")
    if any(m.flag_bits & 0x1 for m in members):  # zipfile would ask for a password: no part can be read
        raise SpreadsheetRefused("the workbook is damaged (encrypted): save it again as .xlsx, without a password")
    try:
        _declared_sizes(members, _WHOLE_ALWAYS)
    except _TooLarge as exc:
        raise _refuse_too_large(*exc.args) from None


def text_encoding(content: bytes) -> str:
    """UTF-8 (a BOM is skipped) when the whole file decodes as UTF-8, else GB18030 (GBK's superset: what Excel on
    a Chinese Windows writes). Checked incrementally: no decoded copy of the file is kept."""
    if content.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(content), 1 << 20):
            decoder.decode(content[start : start + (1 << 20)])
        decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        gbk = codecs.getincrementaldecoder("gb18030")()
        for start in range(0, len(content), 1 << 20):
            gbk.decode(content[start : start + (1 << 20)])
        gbk.decode(b"", final=True)
    except UnicodeDecodeError:
        raise SpreadsheetRefused("the CSV file is neither UTF-8 nor GBK text: save it as CSV (UTF-8)") from None
    return "gb18030"


# --- reading ------------------------------------------------------------------------------------------------


@dataclass
class Cell:
    value: Any
    formula: bool = False


_MERGE_REF = re.compile(rb'<mergeCell ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
_CHUNK = 1 << 20
# Markup whose content may hold a "<" that begins no tag: a comment, a CDATA section, a processing instruction (and a
# document type declaration, refused: a workbook's XML never has one, OPC forbids it, and its entities expand).
_SPECIAL = re.compile(rb"<[!?]")
_SPECIAL_ENDS = ((b"<?", b"?>"), (b"<!--", b"-->"), (b"<![CDATA[", b"]]>"))
_DECLARED = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([^"']{1,40})["']""")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ASCII_SAFE = {"utf-8", "ascii", "iso8859-1"}  # encodings in which a byte 0x3C is "<" and nothing else


class _TooLong(Exception):
    pass


class _Declaration(Exception):
    pass


class _TooLarge(Exception):
    """A part openpyxl reads whole, past MAX_WHOLE_PART_BYTES or MAX_WHOLE_PART_TAGS: (its name, what was over)."""


class _TooManyStrings(Exception):
    """The shared strings past the cap `max_shared_strings` gave."""


# The start of a shared string, `<si>` or `<si …>` or `<si/>`, with or without a prefix (`<x:si>`: openpyxl matches the
# namespace, not the prefix). The empty group makes `findall` a list of one shared empty bytes: a count, no copies.
_STRING_START = re.compile(rb"<(?:[^\s<>/:!?]+:)?si[\s/>]()")
_STRING_STARTS = (b"<si>", b"<si ", b"<si/", b"<si\n", b"<si\r", b"<si\t")


def _strings_in(data: bytes, end: int) -> int:
    """The shared strings that begin in data[:end]: by a few C counts, unless a prefixed tag may be there (then by the
    pattern, several times slower)."""
    if data.find(b":si", 0, end) < 0:
        return sum(data.count(start, 0, end) for start in _STRING_STARTS)
    return len(_STRING_START.findall(data, 0, end))


def _long_run() -> re.Pattern[bytes]:
    return re.compile(rb"<[^<]{%d}" % (MAX_TEXT_RUN_BYTES + 1))  # re keeps it compiled: once for a bound


class _TextRuns:
    """Measures, as a part's XML bytes stream past, the longest run between the starts of two tags: a cell's text
    (with the tag before it), counting a comment, CDATA section or processing instruction as text. Raises _TooLong
    past MAX_TEXT_RUN_BYTES. A chunk of common markup costs a few C searches (`find`, `rfind`); only the rare special
    markup is stepped through in Python."""

    def __init__(self) -> None:
        self.run = 0  # bytes since the last tag began, across chunks
        self.until = b""  # the end of the comment, CDATA section or instruction we are inside
        self.pending = b""  # a few bytes kept for the next chunk: a marker or an end the chunk's end cut

    def feed(self, chunk: bytes, final: bool = False) -> None:
        data, self.pending = self.pending + chunk, b""
        pos, end = 0, len(data)
        while pos < end:
            if self.until:
                stop = data.find(self.until, pos)
                if stop < 0:
                    keep = 0 if final else len(self.until) - 1
                    self.run += end - keep - pos
                    self.pending = data[end - keep :]
                    break
                self.run += stop + len(self.until) - pos
                pos, self.until = stop + len(self.until), b""
                self._check(self.run)
                continue
            # Most chunks hold no "!" or "?" at all (two memchr): special markup is searched for only where one is.
            maybe = data.find(b"!", pos) >= 0 or data.find(b"?", pos) >= 0
            special = _SPECIAL.search(data, pos) if maybe else None
            stop = special.start() if special else end
            if special is None and not final and data.endswith(b"<"):
                stop -= 1  # its "!" or "?" may begin the next chunk
            first = data.find(b"<", pos, stop)
            if first < 0:
                self.run += stop - pos
            else:
                self._check(self.run + first - pos)
                # A run between two "<" of this chunk: only where the chunk is longer than the bound (in C; the
                # regex gives up at once on a span shorter than its pattern).
                if _long_run().search(data, first, stop):
                    raise _TooLong
                self.run = stop - data.rfind(b"<", first, stop) - 1
            self._check(self.run)
            if special is None or (stop + 9 > end and not final):
                self.pending = data[stop:]  # "<" or a marker cut short: judged with the next chunk
                break
            marker = data[stop : stop + 9]
            ends = [e for start, e in _SPECIAL_ENDS if marker.startswith(start)]
            if not ends:
                raise _Declaration
            self.until = ends[0]
            pos = stop + 2  # "<!" or "<?" counted; the rest of the marker is text to the end's search
            self.run += 2
        self._check(self.run)

    @staticmethod
    def _check(run: int) -> None:
        if run > MAX_TEXT_RUN_BYTES:
            raise _TooLong


def _codec(head: bytes) -> str | None:
    """The encoding an XML parser reads a part in (by its byte order mark, else by a NUL in its first two bytes as
    expat guesses UTF-16, else by its declaration), or None when it is no XML: a parser stops at a first character
    other than "<" or white space (an image, an EMF picture that begins 01 00, printer settings)."""
    wide = next((codec for bom, codec in _BOMS if head.startswith(bom)), None)
    if wide is None and b"\0" in head[:2]:
        wide = "utf-16-be" if head[:1] == b"\0" else "utf-16-le"
    if wide is not None:
        first = head[:64].decode(wide, "replace").lstrip("\ufeff \t\r\n")[:1]
        return wide if first in ("<", "") else None
    if head.lstrip(b" \t\r\n")[:1] not in (b"<", b""):
        return None
    declared = _DECLARED.match(head)
    return declared.group(1).decode("ascii", "replace") if declared else "utf-8"


def _utf8(chunks: Iterable[bytes], codec: str) -> Iterator[bytes]:
    """A part in another encoding, as UTF-8 chunks: a character's bytes then never hold a "<" that is not one. A
    byte it cannot decode ends it: a parser stops there too."""
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        for chunk in chunks:
            yield decoder.decode(chunk).encode("utf-8", "surrogatepass")
        yield decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return


def _part_name(member: str) -> str:
    if member.startswith("xl/worksheets/"):
        return f"the sheet stored as {member}"
    if "sharedStrings" in member:
        return f"the workbook's shared text ({member})"
    return f"the workbook's part {member}"


def _scan_parts(content: bytes, max_strings: int | None = None) -> dict[str, tuple[list[tuple[int, int, str]], int]]:
    """Read every XML part of the workbook once, as bytes in chunks (memory bounded by the chunk, not the part),
    before any parser does: a run of text longer than MAX_TEXT_RUN_BYTES is refused (ElementTree, ours and
    openpyxl's shared strings, holds an element's whole text in memory: a 400 MB cell compresses to 400 KB).
    The same pass finds each sheet's merged ranges, which sit after its rows, and counts its rows (for progress):
    (first row, last row, range) of each merged range, and the number of rows, by part name. The shared strings
    (the part openpyxl finds by its content type) are refused past `max_strings` `<si>` elements, when given."""
    found: dict[str, tuple[list[tuple[int, int, str]], int]] = {}
    name = ARC_CONTENT_TYPES
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            whole, strings = _whole_parts(archive)
            _declared_sizes(archive.infolist(), whole)
            for info in archive.infolist():
                if info.is_dir():
                    continue
                name = info.filename
                with archive.open(info) as stream:
                    read: Iterator[bytes] = iter(lambda: stream.read(_CHUNK), b"")
                    if name in whole:  # and what it holds: a zip's directory may understate a size
                        read = _bounded(read, name)
                    first = next(read, b"")
                    codec = _codec(first)
                    if codec is None:
                        if name in whole:
                            for _ in read:  # no XML, read whole all the same (the theme as bytes): measured
                                pass
                        continue
                    try:
                        known = codecs.lookup(codec)
                    except LookupError:
                        known = None
                    if known is None or not known._is_text_encoding:  # a parser cannot read it either: say so
                        raise SpreadsheetRefused(
                            f"{_part_name(name)} is in an encoding ({codec}) no workbook is saved in: "
                            "save it again as .xlsx"
                        )
                    safe = known.name in _ASCII_SAFE
                    chunks: Iterable[bytes] = itertools.chain([first], read)
                    if not safe:
                        chunks = _utf8(chunks, codec)
                    found[name] = _scan_part(chunks, max_strings if name == strings else None)
    except _TooLong:
        raise SpreadsheetRefused(
            f"{_part_name(name)} holds far more text in one place than a cell may (over "
            f"{MAX_TEXT_RUN_BYTES // 2**20} MiB; a cell holds at most {MAX_CELL_CHARS} characters): "
            "delete what was pasted there by mistake and send the file again"
        ) from None
    except _Declaration:
        raise SpreadsheetRefused(
            f"{_part_name(name)} declares a document type, which no workbook has: save it again as .xlsx"
        ) from None
    except _TooLarge as exc:
        raise _refuse_too_large(*exc.args) from None
    except _TooManyStrings:
        raise SpreadsheetRefused(
            f"{_part_name(name)} holds more than {max_strings:,} strings, more than the sheet's rows and columns can use "
            f"(at most {MAX_ROWS:,} rows are read): copy the sheet's data alone into a new workbook, or split it into "
            "smaller files, and send that"
        ) from None
    # A member cut short or damaged: its CRC (BadZipFile), its deflate stream (zlib.error), its compression or
    # encryption (NotImplementedError, RuntimeError), its header (OSError, EOFError, KeyError)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, KeyError, OSError, EOFError) as exc:
        raise SpreadsheetRefused(f"the workbook is damaged ({type(exc).__name__}): save it again as .xlsx") from None
    return found


def _declared_sizes(members: Iterable[zipfile.ZipInfo], whole: Set[str]) -> None:
    """_TooLarge for a part openpyxl reads whole whose size, as the zip's directory declares it, is past
    MAX_WHOLE_PART_BYTES: nothing inflated (the scan then counts what each part inflates to, as a directory may lie)."""
    for info in members:
        if info.filename in whole and info.file_size > MAX_WHOLE_PART_BYTES:
            raise _TooLarge(info.filename, f"{info.file_size / 2**20:.1f} MiB")


def _refuse_too_large(part: str, size: str) -> SpreadsheetRefused:
    return SpreadsheetRefused(
        f"{_part_name(part)} is far larger than a workbook's ({size}; Excel writes kilobytes there, at most "
        f"{MAX_WHOLE_PART_BYTES // 2**20} MiB and {MAX_WHOLE_PART_TAGS:,} tags are read): copy the sheet's data "
        "into a new workbook and send that"
    )


def _bounded(chunks: Iterator[bytes], name: str) -> Iterator[bytes]:
    """The chunks of a part openpyxl reads whole, its bytes and tags counted as they are inflated: _TooLarge past
    MAX_WHOLE_PART_BYTES or MAX_WHOLE_PART_TAGS, having inflated at most a chunk more."""
    size = tags = 0
    for chunk in chunks:
        size += len(chunk)
        tags += chunk.count(b"<")
        if size > MAX_WHOLE_PART_BYTES:
            raise _TooLarge(name, f"over {MAX_WHOLE_PART_BYTES // 2**20} MiB inflated")
        if tags > MAX_WHOLE_PART_TAGS:
            raise _TooLarge(name, f"over {MAX_WHOLE_PART_TAGS:,} tags")
        yield chunk


def _whole_parts(archive: zipfile.ZipFile) -> tuple[set[str], str]:
    """The parts `_WorkbookReader.read` reads whole: the content types, the workbook part they name (as openpyxl finds
    it) with its relationships, the styles, the theme and the document properties. External links are not read
    (`keep_links=False`), nor the sheets' own relationships (openpyxl's sheets are never opened). And the shared
    strings' part, which it streams, as it finds it (by its content type; by its usual name when the content types
    cannot be read: openpyxl refuses such a file)."""
    fixed = set(_WHOLE_ALWAYS)
    try:
        info = archive.getinfo(ARC_CONTENT_TYPES)
    except KeyError:
        return fixed, ARC_SHARED_STRINGS  # openpyxl refuses the file without it
    if info.file_size > MAX_WHOLE_PART_BYTES:
        raise _TooLarge(ARC_CONTENT_TYPES, f"{info.file_size / 2**20:.1f} MiB")
    with archive.open(info) as stream:
        manifest = b"".join(_bounded(iter(lambda: stream.read(_CHUNK), b""), ARC_CONTENT_TYPES))
    codec = _codec(manifest[:_CHUNK])
    try:
        known = codecs.lookup(codec or "")
    except LookupError:
        return fixed, ARC_SHARED_STRINGS  # no XML, or in no encoding a parser reads: the scan or openpyxl refuses it
    if not known._is_text_encoding:
        return fixed, ARC_SHARED_STRINGS
    # A document type (its entities would expand) or a run too long is refused before this parser sees it.
    _TextRuns().feed(manifest if known.name in _ASCII_SAFE else b"".join(_utf8([manifest], known.name)), final=True)
    reader: Any = openpyxl_reader  # the function openpyxl finds the workbook part with (private, untyped)
    try:
        tree: Any = fromstring(manifest)
        package: Any = Manifest.from_tree(tree)
        part = reader._find_workbook_part(package).PartName.lstrip("/")
    except Exception:  # openpyxl refuses the manifest itself, next: no other part is read
        return fixed, ARC_SHARED_STRINGS
    strings = package.find(SHARED_STRINGS)  # as `ExcelReader.read_strings` finds it
    return fixed | {part, _rels_of(part)}, strings.PartName[1:] if strings is not None else ARC_SHARED_STRINGS


def _rels_of(part: str) -> str:
    """The relationships part of a part, as openpyxl names it (`get_rels_path`)."""
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


# The parts openpyxl reads whole in every workbook (the workbook part the content types name is added by the scan):
# their declared sizes are checked at upload, from the zip's directory alone.
_WHOLE_ALWAYS = frozenset(
    {ARC_CONTENT_TYPES, ARC_WORKBOOK, _rels_of(ARC_WORKBOOK), ARC_STYLE, ARC_THEME, ARC_CORE, ARC_CUSTOM}
)


def _scan_part(chunks: Iterable[bytes], max_strings: int | None = None) -> tuple[list[tuple[int, int, str]], int]:
    merged: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    rows = strings = 0
    tail = b""
    cut = b""  # the shared strings from their last "<" on: a tag the chunk's end may have cut, counted with the next
    runs = _TextRuns()
    for chunk in chunks:
        runs.feed(chunk)  # first: a run (and so `cut`) is at most MAX_TEXT_RUN_BYTES
        if max_strings is not None:
            counted = cut + chunk
            last = counted.rfind(b"<")
            strings += _strings_in(counted, max(last, 0))
            cut = counted[last:] if last >= 0 else counted
            if strings > max_strings:
                raise _TooManyStrings
        window = tail + chunk
        rows += chunk.count(b"<row ") + chunk.count(b"<row>")  # a tag cut by the chunk's end is not counted
        for m in _MERGE_REF.finditer(window):
            ref = m.group(0).split(b'"')[1].decode()
            if ref not in seen:
                seen.add(ref)
                merged.append((int(m.group(2)), int(m.group(4) or m.group(2)), ref))
        tail = window[-200:]
    runs.feed(b"", final=True)
    if max_strings is not None and strings + _strings_in(cut, len(cut)) > max_strings:
        raise _TooManyStrings
    return merged, rows


class _WorkbookReader(ExcelReader):
    """openpyxl's reader of what a workbook declares (its sheets, shared strings, styles, date system), without
    opening its sheets: openpyxl's read-only sheet parses the whole sheet on opening when the file does not give
    its size first (files openpyxl itself writes, our exports among them). The rows are read by `_xlsx_rows`."""

    sheets: list[tuple[str, str]]

    def read_worksheets(self) -> None:
        self.sheets = [
            (sheet.name, rel.target)
            for sheet, rel in self.parser.find_sheets()
            if rel.target in self.valid_files and "chartsheet" not in rel.Type
        ]


@dataclass
class Sheet:
    """An open sheet: its header row, which column holds which field, and its data rows to stream."""

    name: str
    header_row: int
    columns: dict[int, Column]
    rows: Iterator[tuple[int, list[Cell]]]  # (row number, cells) after the header
    declared_rows: int = 1  # data rows the file says it has, for progress
    merged: list[tuple[int, int, str]] = field(default_factory=list)
    close: Callable[[], None] = lambda: None


def _find_header(layout: Layout, rows: Iterator[tuple[int, list[Cell]]]) -> tuple[int, dict[int, Column]] | None:
    best: tuple[int, dict[int, Column]] | None = None
    for number, cells in rows:
        found = layout.match([c.value for c in cells])
        if found and not layout.missing(found):
            return number, found
        if found and (best is None or len(found) > len(best[1])):
            best = (number, found)
        if number >= HEADER_SEARCH_ROWS:
            break
    if best is not None:
        return -best[0], best[1]  # the best partial match, negative: the caller names what is missing
    return None


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_SHEET_DATA, _ROW, _VALUE, _FORMULA, _INLINE, _TEXT = (_MAIN + tag for tag in ("sheetData", "row", "v", "f", "is", "t"))
_RUNS = (_TEXT, _MAIN + "r")
_EMPTY = Cell(None)


def _column_index(reference: str) -> int:
    """0 for "A7", 26 for "AA7"."""
    index = 0
    for char in reference:
        if not "A" <= char <= "Z":
            break
        index = index * 26 + ord(char) - 64
    return index - 1


def _xlsx_cell(element: Any, strings: Sequence[Any], dates: Any, durations: Any, epoch: dt.datetime) -> Cell:
    """One `<c>` element as openpyxl's read-only mode reads it (data_only=False): numbers, dates by their style,
    shared and inline strings, booleans; a formula is flagged, with its text as the value (its cached result is never
    taken: staff are asked to paste values)."""
    kind = element.get("t", "n")
    formula = element.find(_FORMULA)
    if formula is not None:  # the formula as its value, as openpyxl gives it: the check refuses it
        return Cell("=" + (formula.text or ""), True)
    if kind == "inlineStr":  # <is><t>…</t></is>, or runs <is><r><t>…</t></r>…</is> (and phonetic guides, not text)
        inline = element.find(_INLINE)
        runs = (
            []
            if inline is None
            else [c.text if c.tag == _TEXT else c.findtext(_TEXT) for c in inline if c.tag in _RUNS]
        )
        return Cell("".join(r for r in runs if r) or None)
    text = element.findtext(_VALUE)
    if not text:
        return _EMPTY
    value: Any = text
    if kind == "n":
        value = float(text) if "." in text or "E" in text or "e" in text else int(text)
        style = element.get("s")
        if style and int(style) in dates:
            try:
                value = from_excel(value, epoch, timedelta=int(style) in durations)
            except (OverflowError, ValueError):
                value = "#VALUE!"  # a serial outside the dates Excel knows, as openpyxl reads it
    elif kind == "s":
        value = strings[int(text)]
    elif kind == "b":
        value = text == "1"
    elif kind == "d":
        value = dt.datetime.fromisoformat(text)
    return Cell(value)


def _xlsx_rows(book: _WorkbookReader, path: str) -> Iterator[tuple[int, list[Cell]]]:
    """The sheet's rows, each as far as its last cell (at most MAX_COLUMNS), streamed from the sheet's XML: openpyxl's
    read-only rows build several objects a cell and cost five times as much (docs/benchmarks/eldercare.md). A row
    already read is dropped from the tree, so memory stays flat."""
    strings, epoch = book.shared_strings, book.wb.epoch
    workbook: Any = book.wb  # the styles' date formats, which openpyxl keeps as private attributes of the workbook
    dates, durations = workbook._date_formats, workbook._timedelta_formats
    try:
        with book.archive.open(path.lstrip("/")) as source:
            rows: Any = None
            number = 0
            for event, element in iterparse(source, events=("start", "end")):
                if event == "start":
                    if element.tag == _SHEET_DATA:
                        rows = element
                    continue
                if element.tag != _ROW:
                    continue
                number = int(element.get("r") or number + 1)
                if number > MAX_ROWS + HEADER_SEARCH_ROWS:
                    raise SpreadsheetRefused(f"the sheet has more than {MAX_ROWS} rows: split it into smaller files")
                cells: list[Cell] = []
                column = -1
                for cell in element:
                    reference = cell.get("r")
                    column = _column_index(reference) if reference else column + 1
                    if 0 <= column < MAX_COLUMNS:
                        if column > len(cells):
                            cells.extend([_EMPTY] * (column - len(cells)))
                        cells[column : column + 1] = [_xlsx_cell(cell, strings, dates, durations, epoch)]
                (rows if rows is not None else element).clear()
                yield number, cells
    except SpreadsheetRefused:
        raise
    except Exception as exc:  # a member that does not match its checksum or size, XML cut short, a bad index, …
        raise SpreadsheetRefused(
            f"the workbook is damaged ({type(exc).__name__}) and cannot be read to its end: save it again as .xlsx"
        ) from None


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[Cell]]]:
    text = io.TextIOWrapper(io.BytesIO(content), encoding=text_encoding(content), newline="")
    try:
        dialect: Any = csv.Sniffer().sniff(text.read(8192), delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    text.seek(0)
    try:
        for number, row in enumerate(csv.reader(text, dialect), start=1):
            if number > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise SpreadsheetRefused(f"the file has more than {MAX_ROWS} rows: split it into smaller files")
            yield number, [Cell(v if v != "" else None, v.startswith("=") and len(v) > 1) for v in row[:MAX_COLUMNS]]
    except csv.Error as exc:
        raise SpreadsheetRefused(f"the CSV file cannot be read: {exc}") from None


def _refuse_layout(layout: Layout, sheet_names: list[str], partial: dict[int, Column] | None) -> SpreadsheetRefused:
    wanted = "、".join(c.headers[0] for c in layout.columns if c.required)
    if partial:
        missing = "、".join(c.headers[0] for c in layout.missing(partial))
        return SpreadsheetRefused(f"the header row lacks the required columns {missing} (required: {wanted})")
    names = "、".join(sheet_names) if sheet_names else "none"
    return SpreadsheetRefused(
        f"no sheet has a header row naming the columns {wanted} (sheets in the file: {names}); "
        f"put the data in a sheet named {layout.sheet} with those headers in its first row"
    )


def open_sheet(content: bytes, layout: Layout, *, sheet: str | None = None) -> Sheet:
    """Open the sheet that holds `layout`: the one named `sheet` when given, else the layout's own sheet name,
    else the first sheet whose header row names the required columns."""
    if sniff(content) == "csv":
        rows = _csv_rows(content)
        header = _find_header(layout, rows)
        if header is None or header[0] < 0:
            raise _refuse_layout(layout, [], header[1] if header else None)
        return Sheet("csv", header[0], header[1], rows, max(1, content.count(b"\n") - header[0]))
    check_zip(content)
    parts = _scan_parts(content, max_shared_strings(layout))
    try:
        book = _WorkbookReader(io.BytesIO(content), read_only=True, keep_links=False)
        book.read()
    except Exception as exc:  # openpyxl raises many kinds for a file it cannot make sense of
        raise SpreadsheetRefused(
            f"the workbook cannot be read ({type(exc).__name__}): save it again as .xlsx"
        ) from None
    paths = dict(book.sheets)
    names = list(paths)
    if sheet is not None and sheet not in names:
        book.archive.close()
        raise SpreadsheetRefused(f"the workbook has no sheet named {sheet} (its sheets: {'、'.join(names)})")
    order = [sheet] if sheet is not None else sorted(names, key=lambda n: n != layout.sheet)
    partial: dict[int, Column] | None = None
    for name in order:
        rows = _xlsx_rows(book, paths[name])
        header = _find_header(layout, rows)
        if header is None:
            continue
        if header[0] < 0:
            partial = partial or header[1]
            continue
        merged, total = parts.get(paths[name].lstrip("/"), ([], 0))
        return Sheet(name, header[0], header[1], rows, max(1, total - header[0]), merged, book.archive.close)
    book.archive.close()
    raise _refuse_layout(layout, names, partial)


# --- checking rows ------------------------------------------------------------------------------------------

_DATE_TEXT = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_TRUE = {"是", "true", "yes", "y", "1", "√", "有"}
_FALSE = {"否", "false", "no", "n", "0", "×", "无"}


def _cell_value(cell: Cell, column: Column) -> tuple[Any, str | None]:
    """The value a cell gives its field, or a problem: (value, None) or (None, message)."""
    value = cell.value
    if cell.formula:
        return None, "a formula: copy the column and paste it back as values (选择性粘贴 → 数值)"
    if isinstance(value, str):
        value = value.strip()
        if len(value) > MAX_CELL_CHARS:
            return None, f"longer than {MAX_CELL_CHARS} characters"
    if column.kind == "date":
        if isinstance(value, dt.datetime):
            return value.date(), None
        if isinstance(value, dt.date):
            return value, None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not 1 <= value < 2958466:
                return None, f"{value} is not a date"
            return from_excel(value).date(), None  # an Excel serial day number (a date cell read as a number)
        if isinstance(value, str):
            match = _DATE_TEXT.match(value)
            if match is None:
                return None, f"{value!r} is not a date: write it as 1955-03-15"
            try:
                return dt.date(*(int(g) for g in match.groups())), None
            except ValueError:
                return None, f"{value!r} is not a date"
    if column.kind == "bool" and isinstance(value, str):
        lowered = value.lower()
        if lowered in _TRUE:
            return True, None
        if lowered in _FALSE:
            return False, None
        return None, f"{value!r}: write 是 or 否"
    if isinstance(value, float) and column.digits:
        if value >= 1e15:
            return None, "a long number stored as a number has lost its last digits in Excel: format the column as text"
        if value.is_integer():
            return str(int(value)), None
    if isinstance(value, int) and not isinstance(value, bool) and column.kind == "text":
        return str(value), None
    if isinstance(value, float) and column.kind == "text" and value.is_integer():
        return str(int(value)), None
    if isinstance(value, dt.datetime | dt.date) and column.kind == "text":
        return None, "a date where text is expected"
    return value, None


@dataclass
class CheckedRow:
    number: int  # its (last) row: where a chunk ends, and where an import resumes
    item: BaseModel | None  # the validated row (or group of rows), or None when it has problems
    problems: list[Problem]
    rows: list[int] = field(default_factory=list)  # a group's rows, in order


def _row_values(sheet: Sheet) -> Iterator[tuple[int, dict[str, Any], list[Problem]]]:
    """Each non-blank data row: its values by field, and the problems of its cells."""
    letters = {index: get_column_letter(index + 1) for index in sheet.columns}
    merged_start = {first: ref for first, last, ref in sheet.merged if last > sheet.header_row and first != last}
    for number, cells in sheet.rows:
        if all(c.value is None or (isinstance(c.value, str) and not c.value.strip()) for c in cells):
            continue
        problems: list[Problem] = []
        if number in merged_start:
            problems.append(
                Problem(number, None, None, f"merged cells {merged_start[number]}: unmerge them and fill every row")
            )
        values: dict[str, Any] = {}
        for index, column in sheet.columns.items():
            if index >= len(cells) or cells[index].value is None:
                continue
            value, problem = _cell_value(cells[index], column)
            if problem is not None:
                problems.append(Problem(number, letters[index], column.headers[0], problem))
            elif value != "":
                values[column.field] = value
        yield number, values, problems


def _groups(
    layout: Layout, rows: Iterator[tuple[int, dict[str, Any], list[Problem]]]
) -> Iterator[list[tuple[int, dict[str, Any], list[Problem]]]]:
    """Consecutive rows with the same key, one group at a time (a group's rows must be together)."""
    assert layout.group_by is not None
    group: list[tuple[int, dict[str, Any], list[Problem]]] = []
    closed: set[str] = set()
    for number, values, problems in rows:
        key = str(values.get(layout.group_by, ""))
        if group and str(group[0][1].get(layout.group_by, "")) != key:
            closed.add(str(group[0][1].get(layout.group_by, "")))
            yield group
            group = []
        if key in closed:
            problems.append(
                Problem(
                    number,
                    None,
                    layout.header_of(layout.group_by),
                    f"{key}: its other rows are above, not next to this one",
                )
            )
        group.append((number, values, problems))
    if group:
        yield group


def place(sheet: Sheet, layout: Layout, checked: CheckedRow, loc: Sequence[Any], message: str) -> Problem:
    """A problem at a field path (`name`, or `members.2.id_number` in a group) placed in its row and column."""
    number = checked.rows[0] if checked.rows else checked.number
    path = [str(part) for part in loc]
    if layout.members and len(path) >= 2 and path[0] == layout.members and path[1].isdigit():
        index = int(path[1])
        number = checked.rows[index] if index < len(checked.rows) else number
        path = path[2:]
    name = path[0] if path else None
    for at, column in sheet.columns.items():
        if name is not None and column.field == name:
            return Problem(number, get_column_letter(at + 1), column.headers[0], message)
    if name is not None and any(c.field == name for c in layout.columns):
        return Problem(number, None, layout.header_of(name), message)  # a column the sheet does not have
    return Problem(number, None, name, message)


def check_rows(
    sheet: Sheet,
    layout: Layout,
    schema: type[BaseModel],
    *,
    build: Callable[[Any], dict[str, Any]] = lambda values: values,
) -> Iterator[CheckedRow]:
    """Each data row (or group of rows) of the sheet validated by `schema` (the service's own request schema), with
    its problems named by row, column letter and header. Blank rows are skipped. `build` shapes a row's values (a
    group's: the list of its rows' values) into the schema's input."""
    rows = _row_values(sheet)
    groups = _groups(layout, rows) if layout.group_by else ([row] for row in rows)
    for group in groups:
        problems = [p for _, _, row_problems in group for p in row_problems]
        checked = CheckedRow(group[-1][0], None, problems, [number for number, _, _ in group])
        if not problems:
            values = [v for _, v, _ in group] if layout.group_by else group[0][1]
            try:
                item = schema.model_validate(build(values))
            except ValidationError as exc:
                for error in exc.errors():
                    message = "required: fill this cell" if error["type"] == "missing" else error["msg"]
                    problems.append(place(sheet, layout, checked, error["loc"], message))
            else:
                # What the routes answer with a 422 (shared.errors): a number no integer column holds, which would
                # otherwise reach the database in the create function's checks and fail the job.
                problems.extend(place(sheet, layout, checked, loc, "too large") for loc in _too_large(item, []))
                checked.item = None if problems else item
        yield checked


def _too_large(value: Any, path: list[Any]) -> Iterator[list[Any]]:
    """The paths of the integers past MAX_INTEGER in a validated row (its members' included)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > MAX_INTEGER:
            yield path
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _too_large(getattr(value, name), [*path, name])
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _too_large(item, [*path, index])


# --- writing ------------------------------------------------------------------------------------------------


class XlsxWriter:
    """One sheet written a row at a time (openpyxl `write_only`: rows go to a temporary file, not to memory)."""

    def __init__(self, sheet_name: str, headers: Sequence[str]):
        self.workbook = Workbook(write_only=True)
        self.worksheet = self.workbook.create_sheet(sheet_name)
        self.worksheet.append(list(headers))
        self.rows = 0

    def append(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.worksheet.append([safe_cell(v) for v in row])
            self.rows += 1

    def save(self) -> bytes:
        """The workbook's bytes (built in a spooled temporary file: memory up to 8 MiB, then disk)."""
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as out:
            self.workbook.save(out)
            out.seek(0)
            return out.read()


# What a spreadsheet may read a cell beginning with as the start of a formula (OWASP's CSV injection list: a leading
# tab or carriage return is dropped by some, leaving the formula after it).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula (CSV/formula injection) is written with a leading quote; for
    writers of other formats too (a CSV export)."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS and len(value) > 1:
        return "'" + value
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)  # xlsx has no time zones: callers pass Asia/Shanghai wall time
    return value
