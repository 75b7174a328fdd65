"""Names the census workbook shows for values stored as codes. The workbook is Chinese whatever the
reader's language (its headers are the bureau's form), so these are fixed Chinese, not translations;
the importer reads both the names and the older codes back."""

from __future__ import annotations

POSITION_SOURCE_ZH = {"gps": "设备定位", "exif": "照片定位", "map": "地图选点", "typed": "手工输入坐标"}
FLAG_ZH = {
    "low_accuracy": "定位精度低",
    "photo_gps_far": "照片位置偏远",
    "possible_duplicate": "疑似重复",
    "township_mismatch": "乡镇不符",
    "village_mismatch": "村不符",
    "area_mismatch": "面积不符",
    "site_township_mismatch": "与发生点乡镇不符",
    "far_from_site": "距样点过远",
}


def flags_zh(flags: str | None) -> str | None:
    """A comma-joined list of flag codes as their names, joined with 、."""
    if not flags:
        return None
    return "、".join(FLAG_ZH.get(flag, flag) for flag in sorted(flags.split(",")))


def position_source_code(value: object) -> str:
    """A position source read from a workbook, by name (设备定位) or code (gps); empty: gps."""
    text = str(value or "").strip()
    codes = {name: code for code, name in POSITION_SOURCE_ZH.items()}
    return codes.get(text, text) or "gps"
