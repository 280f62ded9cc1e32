"""`./dev i18n`: gather the texts people read in problems, and the names of the fields they fill in, into the
Chinese catalogue, shared/locales/zh_CN/LC_MESSAGES/messages.po (docs/i18n.md).

- Texts: the English msgid of every refusal raised in shared/, gateway/ and services/: the first argument of
  `NotFound(...)`, `Conflict(...)` and the other problems (the second of `InvalidInput(field, message)`), `N_(...)`,
  a `FieldProblem`'s `message=`, a `PydanticCustomError`'s message and `ValueError(N_(...))` in validators.
- Field names (msgctxt `field`): every property of a request body and every parameter in the OpenAPI documents of
  the services and the gateway, and the fields named by `InvalidInput` and `FieldProblem`.

New entries are added with an empty translation, gone ones dropped, translations kept. `./dev i18n --check` only
lists what is untranslated (the test tests/shared/test_i18n_catalogue.py runs the same check).
The token endpoint's RFC 6749 errors stay English: `error_description` may hold ASCII only (RFC 6749 §5.2).
"""

from __future__ import annotations

import ast
import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from shared.i18n import CHINESE, FIELD_CONTEXT, catalogue_path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("shared", "gateway", "services")
# Call name → index of the argument holding the msgid. Subclasses of DomainError raised in the services count too.
PROBLEMS = (
    "DomainError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "TooManyRequests",
    "ServiceUnavailable",
    "PairingCodeRefused",
    "QuotaReached",
    "BatchRejected",
    "CursorNotIssued",
    "CursorTooOld",
)
# Refusals naming a field: (field, message, ...).
FIELD_PROBLEMS = ("InvalidInput", "PayloadTooLarge", "UnsupportedMediaType", "Unplaceable")
TEXT_ARGUMENTS: dict[str, int] = {
    **dict.fromkeys(PROBLEMS, 0),
    "N_": 0,
    **dict.fromkeys(FIELD_PROBLEMS, 1),
    "PydanticCustomError": 1,
    "get_or_404": 3,
    "one_or_404": 2,
    "visible_or_404": 2,
}
TEXT_KEYWORDS = {("FieldProblem", "message"), ("Unauthorized", "detail")}
# Call name → index of the argument naming a field.
FIELD_ARGUMENTS = dict.fromkeys(FIELD_PROBLEMS, 0)
FIELD_KEYWORDS = {("FieldProblem", "field")}
# A fixed date in the catalogue's header: a run that finds nothing new leaves the file as it was.
HEADER_DATE = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
HEADER_COMMENT = (
    "# Chinese for the problems of the 民政 service suite: short, plain words for older residents and staff.\n"
    "# Kept up to date by `./dev i18n` (tools/i18n.py); see docs/i18n.md."
)


def _name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _strings(node: ast.expr | None) -> Iterator[str]:
    """The literal texts an argument can be: a string, or either branch of `a if x else b`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body)
        yield from _strings(node.orelse)


def _last_name(field: str) -> str:
    """A field's label is that of the last name in its path (`donor.credit_code` → credit_code): shared/i18n.py."""
    return field.rsplit(".", 1)[-1]


def _source_files() -> Iterator[Path]:
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def extract(paths: list[Path] | None = None) -> tuple[dict[str, set[str]], set[str]]:
    """(msgid → the files it is in, field names) found in the code."""
    texts: dict[str, set[str]] = {}
    fields: set[str] = set()
    for path in paths or list(_source_files()):
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = _name(node)
            if name in TEXT_ARGUMENTS and len(node.args) > TEXT_ARGUMENTS[name]:
                for text in _strings(node.args[TEXT_ARGUMENTS[name]]):
                    texts.setdefault(text, set()).add(where)
            if name in FIELD_ARGUMENTS and len(node.args) > FIELD_ARGUMENTS[name]:
                fields.update(_last_name(f) for f in _strings(node.args[FIELD_ARGUMENTS[name]]))
            for keyword in node.keywords:
                if (name, keyword.arg) in TEXT_KEYWORDS:
                    for text in _strings(keyword.value):
                        texts.setdefault(text, set()).add(where)
                if (name, keyword.arg) in FIELD_KEYWORDS:
                    fields.update(_last_name(f) for f in _strings(keyword.value))
    return texts, fields


def _properties(schema: Any, components: dict[str, Any], seen: set[str]) -> Iterator[str]:
    """Every property name reachable from a JSON schema."""
    if isinstance(schema, list):
        for item in schema:
            yield from _properties(item, components, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _properties(components.get(name, {}), components, seen)
        return
    yield from schema.get("properties", {})
    for key in ("properties",):
        for value in schema.get(key, {}).values():
            yield from _properties(value, components, seen)
    for key in ("items", "anyOf", "allOf", "oneOf", "additionalProperties"):
        if key in schema:
            yield from _properties(schema[key], components, seen)


def request_fields(document: dict[str, Any]) -> set[str]:
    """The names of what a request can carry: its parameters and its body's properties, at any depth."""
    components = document.get("components", {}).get("schemas", {})
    names: set[str] = set()
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            names.update(p["name"] for p in operation.get("parameters", []) if "name" in p)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                names.update(_properties(media.get("schema", {}), components, set()))
    return names


def openapi_documents() -> list[dict[str, Any]]:
    """The API documents of the four services and of the gateway's own routes, as their apps build them."""
    import importlib

    from gateway.app import create_app as create_gateway
    from services import SERVICES

    documents = [importlib.import_module(f"services.{name}.main").create_app().openapi() for name in SERVICES]
    documents.append(create_gateway().local_app.openapi())
    return documents


def template() -> Catalog:
    texts, fields = extract()
    for document in openapi_documents():
        fields |= request_fields(document)
    catalogue = Catalog(project="minzheng", creation_date=HEADER_DATE, fuzzy=False)
    for text in sorted(texts):
        catalogue.add(text, flags=("python-brace-format",) if "{" in text else ())
    for field in sorted(fields):
        catalogue.add(field, context=FIELD_CONTEXT)
    return catalogue


def read(locale: str = CHINESE) -> Catalog:
    path = catalogue_path(locale)
    if not path.exists():
        return Catalog(
            locale=locale,
            project="minzheng",
            header_comment=HEADER_COMMENT,
            creation_date=HEADER_DATE,
            revision_date=HEADER_DATE,
            fuzzy=False,  # a fuzzy header would be left out when compiled, and with it the charset
        )
    with path.open("rb") as source:
        return read_po(source, locale=locale)


def untranslated(catalogue: Catalog, wanted: Catalog) -> list[str]:
    """What the code needs that the catalogue does not translate: `msgid`, or `field: name` for a field's name."""
    missing = []
    for message in wanted:
        if not message.id:
            continue
        have = catalogue.get(message.id, context=message.context)
        if have is None or not have.string or have.fuzzy:
            missing.append(f"{message.context}: {message.id}" if message.context else str(message.id))
    return missing


def update(locale: str = CHINESE) -> list[str]:
    """Bring the catalogue in line with the code; returns what still needs a translation."""
    wanted = template()
    catalogue = read(locale)
    catalogue.update(wanted, no_fuzzy_matching=True, update_header_comment=False)
    catalogue.revision_date = HEADER_DATE
    path = catalogue_path(locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as target:
        # Sorted, without locations: two people adding texts at once rarely touch the same lines.
        write_po(target, catalogue, sort_output=True, no_location=True, ignore_obsolete=True, width=120)
    return untranslated(catalogue, wanted)


HOW_TO = (
    "Run `./dev i18n`, then fill in each empty msgstr it lists in shared/locales/zh_CN/LC_MESSAGES/messages.po: "
    "short, plain Chinese an older person understands, keeping every {placeholder}; under msgctxt "
    '"field", the field\'s everyday Chinese name (docs/i18n.md).'
)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        missing = untranslated(read(), template())
    else:
        missing = update()
        print(f"updated {catalogue_path(CHINESE).relative_to(ROOT)}")
    for entry in missing:
        print(f"untranslated: {entry}")
    if missing:
        print(HOW_TO)
    return 1 if missing and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
