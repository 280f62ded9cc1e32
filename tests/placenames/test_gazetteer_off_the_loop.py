"""The parser's dictionary and the indexes built from it (search as you type, the misspelt-road speller) are
built off the event loop: about a second of pure Python the first time in a process, when pypinyin loads its
dictionaries, and again in part after every change of the registers. On the loop, every request in flight,
/readyz included, would wait for it."""

import asyncio

from services.placenames import gazetteer
from services.placenames.parsing import spelling
from services.placenames.search import index
from tests.placenames.helpers import API, load_demo


def _on_the_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def test_the_dictionary_and_its_indexes_are_built_off_the_event_loop(client, monkeypatch):
    await load_demo(client)
    built: list[tuple[str, bool]] = []

    def spied(name, make):
        def wrapper(*args, **kwargs):
            built.append((name, _on_the_loop()))
            return make(*args, **kwargs)

        return wrapper

    # No dictionary this process already built for the same registers: this test's requests build it.
    monkeypatch.setattr(gazetteer, "_built", {})
    monkeypatch.setattr(gazetteer, "build", spied("dictionary", gazetteer.build))
    monkeypatch.setattr(index, "NameIndex", spied("search index", index.NameIndex))
    monkeypatch.setattr(spelling, "RoadSpeller", spied("road speller", spelling.RoadSpeller))

    typed = await client.get(f"{API}/addresses/search", params={"q": "tiantong"})
    assert typed.status_code == 200, typed.text
    assert "天童南路" in [i["text"] for i in typed.json()["items"]]
    geocoded = await client.get(f"{API}/geocode", params={"q": "鄞州区天童南陆588号"})
    assert geocoded.status_code == 200, geocoded.text
    assert sorted(built) == [("dictionary", False), ("road speller", False), ("search index", False)]
