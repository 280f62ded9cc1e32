"""Every text a problem can show a person, and every field a request can name, has its Chinese in the catalogue.

When a test here fails after you add a problem or a field: run `./dev i18n` and fill in the empty msgstr it lists in
shared/locales/zh_CN/LC_MESSAGES/messages.po (docs/i18n.md).
"""

import ast
import re

import pytest

from shared.i18n import CHINESE, translate, translations
from tools import i18n

PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.fixture(scope="module")
def wanted():
    return i18n.template()


def test_every_problem_text_and_request_field_has_its_chinese(wanted):
    missing = i18n.untranslated(i18n.read(), wanted)
    assert missing == [], f"{len(missing)} untranslated: {missing[:20]}\n{i18n.HOW_TO}"


def test_a_translation_keeps_the_placeholders_of_its_text():
    broken = [
        (message.id, message.string)
        for message in i18n.read()
        if message.id
        and message.string
        and set(PLACEHOLDER.findall(message.id)) != set(PLACEHOLDER.findall(message.string))
    ]
    assert broken == [], f"each {{placeholder}} of the English must be in the Chinese, and no other: {broken}"


def test_problems_are_raised_with_catalogue_texts_not_f_strings():
    """An f-string is formatted before anyone can look it up: `NotFound("no bed {bed_id}", bed_id=bed_id)`."""
    formatted = []
    for path in i18n._source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (name := i18n._name(node)) in i18n.TEXT_ARGUMENTS:
                index = i18n.TEXT_ARGUMENTS[name]
                if len(node.args) > index and isinstance(node.args[index], (ast.JoinedStr, ast.BinOp)):
                    formatted.append(f"{path.relative_to(i18n.ROOT)}:{node.lineno}")
    assert formatted == [], (
        "write the text with {placeholders} and give their values as keywords, "
        f'e.g. NotFound("no bed {{bed_id}}", bed_id=bed_id): {formatted}'
    )


def test_the_catalogue_compiles_and_translates_with_placeholders_filled():
    assert translations(CHINESE).gettext("Not found") == "没有找到"
    assert translate(CHINESE, "no bed {bed_id}", {"bed_id": 7}) == "没有找到床位 7"
    assert translate("en", "no bed {bed_id}", {"bed_id": 7}) == "no bed 7"
