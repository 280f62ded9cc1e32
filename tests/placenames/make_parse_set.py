"""Builds data/parse_set.csv: labelled Ningbo addresses for the parser's accuracy test.

    .venv/bin/python -m tests.placenames.make_parse_set

Each line is written the way people write addresses (with or without province and city, short district
names, the abolished 江东区, alias road names, Chinese and full-width numerals, 12-3-1001, 号楼/栋/幢/座,
spaces) from real division names (data/divisions.csv) and real road names (data/names.csv). The expected
parts are known by construction: what was written, normalised — today's standard name for an old or alias
name, digits for numbers. Seeded, so the file is the same on every run. A few hand-written lines are
appended. Run it again only when the forms covered should change.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from services.placenames import seed

OUT = Path(__file__).parent / "data" / "parse_set.csv"
FIELDS = [
    "text",
    "province",
    "city",
    "district",
    "township",
    "community",
    "road",
    "house_number",
    "area",
    "building",
    "unit",
    "floor",
    "room",
]
CN = "零一二三四五六七八九"
FULL = str.maketrans("0123456789-", "０１２３４５６７８９－")
AREAS = [
    "东方花园",
    "阳光小区",
    "锦绣家园",
    "香樟苑",
    "丽景公寓",
    "银河大厦",
    "和美新村",
    "翠湖山庄",
    "江南名苑",
    "金色嘉园",
]
KNOWN_AREAS = {"330212": ["福明家园", "东湖花园"], "330203": ["丽园小区"], "330205": ["日湖花园"]}

HAND = [
    ("宁波市江东区甬江路12号", dict(city="宁波市", district="鄞州区", road="江东北路", house_number="12")),
    ("江东区百丈街7号", dict(district="鄞州区", road="百丈路", house_number="7")),
    ("鄞县天童路一百号", dict(district="鄞州区", road="天童南路", house_number="100")),
    ("奉化市中山路18号", dict(district="奉化区", road="中山路", house_number="18")),
    ("鄞州区福明家园12-3-1001", dict(district="鄞州区", area="福明家园", building="12", unit="3", room="1001")),
    (
        "鄞州区天童南路588号宁波文化广场3号楼",
        dict(district="鄞州区", road="天童南路", house_number="588", area="宁波文化广场", building="3"),
    ),
    (
        "海曙区 柳汀街 ２３号 ５号楼 1单元 302室",
        dict(district="海曙区", road="柳汀街", house_number="23", building="5", unit="1", room="302"),
    ),
    (
        "浙江宁波海曙解放南路88-2号A座1203",
        dict(
            province="浙江省",
            city="宁波市",
            district="海曙区",
            road="解放南路",
            house_number="88-2",
            building="A",
            room="1203",
        ),
    ),
    ("江北区人民路5号", dict(district="江北区", road="人民路", house_number="5")),
    (
        "鄞州区钟公庙街道天童南路588号3幢2单元5楼501室",
        dict(
            district="鄞州区",
            township="钟公庙街道",
            road="天童南路",
            house_number="588",
            building="3",
            unit="2",
            floor="5",
            room="501",
        ),
    ),
    ("宁波市鄞州区中山东路一千零八号", dict(city="宁波市", district="鄞州区", road="中山东路", house_number="1008")),
    ("余姚市阳明西路十二号", dict(district="余姚市", road="阳明西路", house_number="12")),
    (
        "慈溪市三北大街100号东方花园7栋2单元301室",
        dict(
            district="慈溪市", road="三北大街", house_number="100", area="东方花园", building="7", unit="2", room="301"
        ),
    ),
    ("北仑区明州路 88 号", dict(district="北仑区", road="明州路", house_number="88")),
    ("海曙区柳汀路3号", dict(district="海曙区", road="柳汀街", house_number="3")),
    ("宁波市鄞州区钱湖路5号", dict(city="宁波市", district="鄞州区", road="钱湖北路", house_number="5")),
    ("镇海区胜利路21号", dict(district="镇海区", road="胜利路", house_number="21")),
    ("宁海县桃源中路三十三号", dict(district="宁海县", road="桃源中路", house_number="33")),
    ("象山县靖南大街66号", dict(district="象山县", road="靖南大街", house_number="66")),
    (
        "鄞州区世纪大道1号宁波中心A座5501室",
        dict(district="鄞州区", road="世纪大道", house_number="1", area="宁波中心", building="A", room="5501"),
    ),
]


def _cn(n: int) -> str:
    """Chinese numerals as people write them: 十二, 一百零八, or digit by digit for rooms (五〇一)."""
    if n < 10:
        return CN[n]
    if n < 20:
        return "十" + (CN[n % 10] if n % 10 else "")
    if n < 100:
        return CN[n // 10] + "十" + (CN[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        tail = "" if rest == 0 else ("零" + CN[rest]) if rest < 10 else _cn(rest) if rest >= 20 else "一" + _cn(rest)
        return CN[n // 100] + "百" + tail
    return "".join(CN[int(d)] for d in str(n)).replace("零", "〇")


def _num(rng: random.Random, n: int, style: str) -> str:
    return {"digits": str(n), "full": str(n).translate(FULL), "cn": _cn(n)}[style]


def build(count: int = 320, seed_value: int = 2026) -> list[dict]:
    rng = random.Random(seed_value)
    divisions = seed.source_rows()
    by_code = {d["code"]: d for d in divisions}
    townships: dict[str, list[dict]] = {}
    villages: dict[str, list[dict]] = {}
    for d in divisions:
        if d["level"] == "township" and d["valid_to"] is None:
            townships.setdefault(d["parent_code"], []).append(d)
        elif d["level"] == "village":
            villages.setdefault(d["parent_code"], []).append(d)
    names = seed.name_rows()
    roads = [r for r in names if r["kind"] in ("road", "street") and r["status"] == "standard"]
    aliases = [r for r in names if r["kind"] == "road" and r["status"] != "standard"]
    standard_of = {(r["name"], r["district_code"]): r["standard_name"] for r in aliases}
    count_by_name: dict[str, int] = {}
    for r in roads:
        count_by_name[r["name"]] = count_by_name.get(r["name"], 0) + 1
    rows = []
    while len(rows) < count:
        road = rng.choice(aliases) if rng.random() < 0.08 else rng.choice(roads)
        district = by_code[road["district_code"]]
        standard = road["name"]
        while (standard, road["district_code"]) in standard_of:
            standard = standard_of[(standard, road["district_code"])]
        label = {f: "" for f in FIELDS}
        text = []
        sep = " " if rng.random() < 0.1 else ""
        prefix = rng.random()
        if prefix < 0.2:
            text.append("浙江省宁波市")
            label.update(province="浙江省", city="宁波市")
        elif prefix < 0.5:
            text.append("宁波市")
            label["city"] = "宁波市"
        elif prefix < 0.6:
            text.append("宁波")
            label["city"] = "宁波市"
        form = rng.random()
        unique_road = count_by_name.get(standard, 1) == 1
        if form < 0.08 and road["district_code"] == "330212":
            text.append("江东区")
            label["district"] = "鄞州区"
        elif form < 0.2:
            text.append(district["name"][:-1])
            label["district"] = district["name"]
        elif form < 0.3 and unique_road:
            pass  # no district: the road implies it
        else:
            text.append(district["name"])
            label["district"] = district["name"]
        if label["district"] and rng.random() < 0.35:
            township = rng.choice(townships[road["district_code"]])
            short = township["name"].removesuffix("街道").removesuffix("镇").removesuffix("乡")
            text.append(short if rng.random() < 0.2 and len(short) >= 2 else township["name"])
            label["township"] = township["name"]
            if rng.random() < 0.3 and villages.get(township["code"]):
                village = rng.choice(villages[township["code"]])
                for suffix, written in (("社区居委会", "社区"), ("居委会", "社区"), ("村委会", "村")):
                    if village["name"].endswith(suffix):
                        text.append(village["name"][: -len(suffix)] + written)
                        break
                else:
                    text.append(village["name"])
                label["community"] = village["name"]
        text.append(road["name"])
        label["road"] = standard
        style = rng.choice(["digits"] * 6 + ["full", "cn"])
        house = rng.randint(1, 999)
        if rng.random() < 0.08:
            sub = rng.randint(1, 9)
            text.append(f"{house}-{sub}号".translate(FULL) if style == "full" else f"{house}-{sub}号")
            label["house_number"] = f"{house}-{sub}"
        else:
            text.append(_num(rng, house, style) + "号")
            label["house_number"] = str(house)
        if rng.random() < 0.25:
            area = rng.choice(KNOWN_AREAS.get(road["district_code"], []) + AREAS)
            text.append(area)
            label["area"] = area
        detail = rng.random()
        b, u, r = rng.randint(1, 30), rng.randint(1, 6), rng.randint(1, 33) * 100 + rng.randint(1, 4)
        if detail < 0.3:
            pass
        elif detail < 0.45:
            text.append(f"{b}-{u}-{r}")
            label.update(building=str(b), unit=str(u), room=str(r))
        elif detail < 0.55:
            text.append(f"{_cn(b)}幢{_cn(u)}单元{_cn(r)}室")
            label.update(building=str(b), unit=str(u), room=str(r))
        elif detail < 0.62:
            text.append(f"{b}幢{u}单元{r // 100}楼{r}室")
            label.update(building=str(b), unit=str(u), floor=str(r // 100), room=str(r))
        elif detail < 0.7:
            letter = rng.choice("ABCD")
            text.append(f"{letter}座{r}")
            label.update(building=letter, room=str(r))
        else:
            word = rng.choice(["幢", "栋", "号楼"])
            body = f"{b}{word}{u}单元{r}" + rng.choice(["室", "", "室"])
            text.append(body.translate(FULL) if style == "full" else body)
            label.update(building=str(b), unit=str(u), room=str(r))
        label["text"] = sep.join(text)
        rows.append(label)
    for text, parts in HAND:
        rows.append({f: "" for f in FIELDS} | parts | {"text": text})
    return rows


def main() -> None:
    rows = build()
    OUT.parent.mkdir(exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} labelled addresses → {OUT}")


if __name__ == "__main__":
    main()
