"""Texts for people in their language, codes for programs: the problem messages' translations.

The English texts in the code are the gettext msgids; `shared/locales/zh_CN/LC_MESSAGES/messages.po` holds their
Chinese, read with Babel and compiled in memory the first time it is needed (no .mo file is kept). A caller gets
the language its `Accept-Language` asks for among zh-CN and en, and Chinese when it asks for neither: the people
reading these texts (older residents in the mini-program, street-office staff) read Chinese.

Field names are translated too, under the msgctxt `field` (`id_number` → 身份证号码): a field error names its
field in both languages. `./dev i18n` collects new texts and field names into the catalogue (docs/i18n.md).
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
CHINESE, ENGLISH = "zh_CN", "en"
DEFAULT_LOCALE = CHINESE
# The value of Content-Language for each locale (a language tag, RFC 5646).
LANGUAGE_TAGS = {CHINESE: "zh-CN", ENGLISH: "en"}
FIELD_CONTEXT = "field"

_ACCEPT_ITEM = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


class Msgid(str):
    """A text of the catalogue: as a placeholder's value it is translated too ("30 days after {after}")."""


def N_(msgid: str) -> Msgid:
    """Marks a text for the catalogue where it is written, for a problem that is raised elsewhere."""
    return Msgid(msgid)


def catalogue_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(locale: str) -> gettext.NullTranslations:
    """The locale's catalogue, compiled from its .po in memory; English is the msgids themselves."""
    path = catalogue_path(locale)
    if locale == ENGLISH or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as source:
        catalogue = read_po(source, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)  # fuzzy entries are left out: a guess is not shown to anyone
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _locale_of(tag: str) -> str | None:
    language = tag.split("-", 1)[0].lower()
    # Any Chinese (zh, zh-CN, zh-Hans, zh-TW) gets the Chinese there is; any English gets English.
    return {"zh": CHINESE, "en": ENGLISH, "*": DEFAULT_LOCALE}.get(language)


def negotiate(accept_language: str | None) -> str:
    """The locale for an `Accept-Language` header (RFC 9110 §12.5.4): the first of its languages by q-value that we
    have, zh-CN when it names none of them (or is missing, or malformed)."""
    preferences: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")[:20]):
        match = _ACCEPT_ITEM.match(item)
        if match is None:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) is not None else 1.0
        except ValueError:
            continue
        if 0 < quality <= 1:  # q=0 is "not acceptable"
            preferences.append((-quality, position, match.group(1)))
    for _quality, _position, tag in sorted(preferences):
        locale = _locale_of(tag)
        if locale is not None:
            return locale
    return DEFAULT_LOCALE


def translate(locale: str, msgid: str, params: dict[str, Any] | None = None) -> str:
    """The text in the locale, its `{placeholders}` filled in. A text not (yet) in the catalogue stays English."""
    text = translations(locale).gettext(msgid)
    if not params:
        return text
    params = {name: translate(locale, value) if isinstance(value, Msgid) else value for name, value in params.items()}
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):  # a translation naming a placeholder the code does not give
        return msgid.format(**params)


def field_label(locale: str, field: str) -> str:
    """What a person calls a field: the last name in its dotted path (`members.0.income_fen` → income_fen),
    translated under msgctxt `field`; in English the name in words (`income fen`)."""
    names = [part for part in field.split(".") if part and not part.isdigit()]
    name = names[-1] if names else field
    if locale == ENGLISH:
        return name.replace("_", " ")
    label = translations(locale).pgettext(FIELD_CONTEXT, name)
    return name.replace("_", " ") if label == name else label
