"""The three downloadable layers (observations, sites, control operations): their columns, and each row
as a `Record` the writers take (geometry and plain values, times in local time).

Column keys are the list endpoints' field names where they exist (docs/contract.md §3.2: names are part
of the contract); DBF names are the short Chinese names a Shapefile can hold (app/gis/writers/
shapefile_zip.py). Positions are WGS-84 (≡ CGCS2000 for field work). A control operation has no position
of its own: it is where its site is. A row with an area polygon (a record's 发生范围, a site's extent, an
operation's treated polygon: docs/contract.md §2 Area) is drawn as that polygon, its point kept in the
longitude/latitude columns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Generic, TypeVar

from app.control.models import ControlOperation
from app.gis.writers.base import Column, Geometry, Kind, Layer, Record, point
from app.observations.models import Observation
from app.units import to_mu

T = Kind.TEXT
I = Kind.INTEGER  # noqa: E741 - a one-letter column kind reads best in the tables below
R = Kind.REAL
B = Kind.BOOLEAN
D = Kind.DATETIME
Row = TypeVar("Row")


def _local(moment: datetime | None, zone: tzinfo) -> datetime | None:
    return None if moment is None else moment.astimezone(zone)


@dataclass(frozen=True)
class Source:
    """A layer and how one of its rows becomes a Record (times in the zone given, Asia/Shanghai)."""

    layer: Layer
    record: Callable[[Any, tzinfo], Record]


@dataclass(frozen=True)
class Field(Generic[Row]):
    """A column and where a row's value for it comes from: a layer's column and its value are written
    side by side, so the table and the rows cannot drift apart."""

    column: Column
    value: Callable[[Row, tzinfo], Any]


def build(
    name: str,
    title: str,
    fields: Sequence[Field[Row]],
    *,
    shape: Callable[[Row], Geometry],
    label: Callable[[Row, tzinfo], str],
) -> Source:
    """The one builder of the three layers: their columns from `fields`, and each row as a Record of its
    id, its `shape` (GeoJSON geometry), the fields' values in the columns' order and its `label`."""
    layer = Layer(name=name, title=title, columns=tuple(f.column for f in fields))
    values = tuple(f.value for f in fields)

    def record(row: Any, zone: tzinfo) -> Record:
        return Record(row.id, shape(row), tuple(value(row, zone) for value in values), label(row, zone))

    return Source(layer, record)


def _plain(key: str, dbf: str, zh: str, en: str, kind: Kind = T, size: int = 254, **more: Any) -> Field[Any]:
    """A column whose value is the row's attribute of the same name."""
    return Field(Column(key, dbf, zh, en, kind, size, **more), lambda row, _zone: getattr(row, key))


def _at(get: Callable[[Any], Any], column: Column) -> Field[Any]:
    return Field(column, lambda row, _zone: get(row))


def _time(key: str, dbf: str, zh: str, en: str) -> Field[Any]:
    """A UTC time shown in the zone given (Beijing time)."""
    return Field(Column(key, dbf, zh, en, D), lambda row, zone: _local(getattr(row, key), zone))


# Columns more than one layer has: the same names in each (docs/contract.md §3.2).


def _species(of: Callable[[Any], Any]) -> list[Field[Any]]:
    return [
        _at(
            lambda r: of(r).name_zh, Column("species", "物种", "物种中文名", "species (Chinese name)", T, 100)
        ),
        _at(lambda r: of(r).name_sci, Column("name_sci", "学名", "物种学名", "scientific name", T, 150)),
    ]


def _township_code(of: Callable[[Any], Any]) -> Field[Any]:
    return _at(
        lambda r: of(r).code if of(r) else None,
        Column("township_code", "乡镇码", "乡镇（街道）代码", "township code", T, 12),
    )


def _township_name(of: Callable[[Any], Any]) -> Field[Any]:
    return _at(
        lambda r: of(r).name_zh if of(r) else None,
        Column("township_name", "乡镇", "乡镇（街道）", "township", T, 100),
    )


def _code_of(relation: str, key: str, dbf: str, zh: str, en: str, size: int) -> Field[Any]:
    """The code of a related row (its habitat, its site), or nothing."""

    def value(row: Any, _zone: tzinfo) -> Any:
        related = getattr(row, relation)
        return related.code if related else None

    return Field(Column(key, dbf, zh, en, T, size), value)


def _area_mu(zh: str, en: str) -> Field[Any]:
    return Field(Column("area_mu", "面积亩", zh, en, R, decimals=4), lambda row, _zone: to_mu(row.area_m2))


def _position(of: Callable[[Any], Any], lon: tuple[str, str], lat: tuple[str, str]) -> list[Field[Any]]:
    """Longitude and latitude (WGS-84 ≡ CGCS2000 for field work), with the layer's wording (zh, en)."""
    return [
        _at(lambda r: of(r).longitude, Column("longitude", "经度", *lon, R, decimals=7)),
        _at(lambda r: of(r).latitude, Column("latitude", "纬度", *lat, R, decimals=7)),
    ]


PLACE_NAME = _plain("place_name", "地名", "小地名", "place name", T, 200)
HABITAT = _code_of("habitat", "habitat", "生境", "生境代码", "habitat code", 50)
ORGANIZATION = _at(
    lambda r: r.organization.code, Column("organization", "单位", "单位代码", "organization code", T, 64)
)
WGS84 = (
    ("经度（WGS-84/CGCS2000）", "longitude (WGS-84/CGCS2000)"),
    ("纬度（WGS-84/CGCS2000）", "latitude (WGS-84/CGCS2000)"),
)


def _itself(row: Any) -> Any:
    return row


# ---------------------------------------------------------------------------------------------
# Observations


def _surveyor(o: Observation, _zone: tzinfo) -> str | None:
    return o.surveyor.display_name if o.surveyor else o.legacy_surveyor


def _observation_label(o: Observation, zone: tzinfo) -> str:
    finding = "" if o.detected else "（未发现）"
    return f"{o.species.name_zh}{finding} {_local(o.observed_at, zone):%Y-%m-%d}"


OBSERVATION_SOURCE = build(
    "observations",
    "调查记录 Observations",
    [
        _plain("id", "ID", "记录编号", "record id", I),
        *_species(lambda o: o.species),
        _plain("detected", "发现", "是否发现（否为未发现记录）", "detected (false: absence record)", B),
        _time("observed_at", "时间", "调查时间（北京时间）", "observed at (Beijing time)"),
        Field(Column("status", "审核", "审核状态", "review status", T, 20), lambda o, _z: o.status.value),
        _township_code(lambda o: o.township),
        _township_name(lambda o: o.township),
        _code_of("village", "village_code", "村代码", "村（社区）代码", "village code", 12),
        _at(
            lambda o: o.village.short_name if o.village else None,
            Column("village_name", "村", "村（社区）", "village", T, 100),
        ),
        PLACE_NAME,
        HABITAT,
        _area_mu("发生面积（亩）", "area (mu)"),
        _plain("cover_pct", "盖度", "盖度（%）", "cover (%)", R, decimals=2),
        _plain("density_per_m2", "密度", "密度（每平方米）", "density (per m²)", R, decimals=4),
        _plain("egg_masses_per_m2", "卵块", "卵块密度（块每平方米）", "egg masses (per m²)", R, decimals=4),
        _plain("count", "数量", "数量", "count", I),
        _plain("severity", "等级", "发生程度（1–5级）", "severity (1-5)", I),
        _plain("accuracy_m", "精度米", "定位精度（米）", "GPS accuracy (m)", R, decimals=1),
        _plain("altitude_m", "海拔米", "海拔（米）", "altitude (m)", R, decimals=1),
        Field(
            Column("position_source", "定位", "定位方式", "position source", T, 10),
            lambda o, _z: o.position_source.value,
        ),
        _code_of("site", "site_code", "发生点", "发生点编号", "site code", 32),
        Field(Column("surveyor_name", "调查人", "调查人", "surveyor", T, 100), _surveyor),
        ORGANIZATION,
        Field(
            Column("flags", "标记", "质量标记", "quality flags", T, 100),
            lambda o, _z: ",".join(o.flags) or None,
        ),
        _plain("notes", "备注", "备注", "notes", T, 254),
        *_position(_itself, *WGS84),
    ],
    shape=lambda o: o.geometry or point(o.longitude, o.latitude),
    label=_observation_label,
)


# ---------------------------------------------------------------------------------------------
# Sites

SITE_SOURCE = build(
    "sites",
    "发生点 Sites",
    [
        _plain("id", "ID", "发生点序号", "site id", I),
        _plain("code", "编号", "发生点编号", "site code", T, 32),
        *_species(lambda s: s.species),
        Field(Column("status", "状态", "发生点状态", "status", T, 20), lambda s, _z: s.status.value),
        _township_code(lambda s: s.township),
        _township_name(lambda s: s.township),
        PLACE_NAME,
        HABITAT,
        ORGANIZATION,
        _time("first_observed_at", "首次", "首次发现时间（北京时间）", "first observed (Beijing time)"),
        _time("last_observed_at", "最近", "最近调查时间（北京时间）", "last observed (Beijing time)"),
        *_position(_itself, *WGS84),
    ],
    shape=lambda s: s.extent or point(s.longitude, s.latitude),
    label=lambda s, _zone: f"{s.code} {s.species.name_zh}",
)


# ---------------------------------------------------------------------------------------------
# Control operations (no position of their own: where their site is)


def _details(o: ControlOperation, _zone: tzinfo) -> str | None:
    return json.dumps(o.details, ensure_ascii=False, sort_keys=True) if o.details else None


OPERATION_SOURCE = build(
    "control_operations",
    "防治作业 Control operations",
    [
        _plain("id", "ID", "作业编号", "operation id", I),
        _at(lambda o: o.site.code, Column("site_code", "发生点", "发生点编号", "site code", T, 32)),
        *_species(lambda o: o.species),
        _at(lambda o: o.method.code, Column("method", "方法码", "防治方法代码", "method code", T, 40)),
        _at(lambda o: o.method.name_zh, Column("method_name", "方法", "防治方法", "method", T, 100)),
        _time("performed_at", "时间", "作业时间（北京时间）", "performed at (Beijing time)"),
        _area_mu("防治面积（亩）", "area treated (mu)"),
        _plain("labour_person_days", "用工", "用工（人日）", "labour (person-days)", R, decimals=2),
        _plain("cost_yuan", "费用元", "费用（元）", "cost (yuan)", R, decimals=2),
        _plain("team", "队伍", "作业队伍", "team", T, 200),
        Field(Column("details", "参数", "方法参数（JSON）", "method details (JSON)", T, 254), _details),
        _at(
            lambda o: o.operator.display_name,
            Column("operator_name", "作业人", "记录人", "recorded by", T, 100),
        ),
        ORGANIZATION,
        _township_code(lambda o: o.site.township),
        _plain("notes", "备注", "备注", "notes", T, 254),
        *_position(
            lambda o: o.site,
            ("发生点经度（WGS-84/CGCS2000）", "site longitude"),
            ("发生点纬度（WGS-84/CGCS2000）", "site latitude"),
        ),
    ],
    shape=lambda o: o.geometry or point(o.site.longitude, o.site.latitude),
    label=lambda o, zone: f"{o.method.name_zh} {o.species.name_zh} {_local(o.performed_at, zone):%Y-%m-%d}",
)

OBSERVATIONS = OBSERVATION_SOURCE.layer
SITES = SITE_SOURCE.layer
CONTROL_OPERATIONS = OPERATION_SOURCE.layer
observation_record = OBSERVATION_SOURCE.record
site_record = SITE_SOURCE.record
operation_record = OPERATION_SOURCE.record

SOURCES = {
    "observations": OBSERVATION_SOURCE,
    "sites": SITE_SOURCE,
    "control_operations": OPERATION_SOURCE,
}
