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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from app.control.models import ControlOperation
from app.gis.writers.base import Column, Kind, Layer, Record, point
from app.observations.models import Observation
from app.sites.models import Site
from app.units import to_mu

T = Kind.TEXT
I = Kind.INTEGER  # noqa: E741 - a one-letter column kind reads best in the tables below
R = Kind.REAL
B = Kind.BOOLEAN
D = Kind.DATETIME


def _local(moment: datetime | None, zone: tzinfo) -> datetime | None:
    return None if moment is None else moment.astimezone(zone)


@dataclass(frozen=True)
class Source:
    """A layer and how one of its rows becomes a Record (times in the zone given, Asia/Shanghai)."""

    layer: Layer
    record: Callable[[Any, tzinfo], Record]


# ---------------------------------------------------------------------------------------------
# Observations

OBSERVATIONS = Layer(
    name="observations",
    title="调查记录 Observations",
    columns=(
        Column("id", "ID", "记录编号", "record id", I),
        Column("species", "物种", "物种中文名", "species (Chinese name)", T, 100),
        Column("name_sci", "学名", "物种学名", "scientific name", T, 150),
        Column("detected", "发现", "是否发现（否为未发现记录）", "detected (false: absence record)", B),
        Column("observed_at", "时间", "调查时间（北京时间）", "observed at (Beijing time)", D),
        Column("status", "审核", "审核状态", "review status", T, 20),
        Column("township_code", "乡镇码", "乡镇（街道）代码", "township code", T, 12),
        Column("township_name", "乡镇", "乡镇（街道）", "township", T, 100),
        Column("village_code", "村代码", "村（社区）代码", "village code", T, 12),
        Column("village_name", "村", "村（社区）", "village", T, 100),
        Column("place_name", "地名", "小地名", "place name", T, 200),
        Column("habitat", "生境", "生境代码", "habitat code", T, 50),
        Column("area_mu", "面积亩", "发生面积（亩）", "area (mu)", R, decimals=4),
        Column("cover_pct", "盖度", "盖度（%）", "cover (%)", R, decimals=2),
        Column("density_per_m2", "密度", "密度（每平方米）", "density (per m²)", R, decimals=4),
        Column("egg_masses_per_m2", "卵块", "卵块密度（块每平方米）", "egg masses (per m²)", R, decimals=4),
        Column("count", "数量", "数量", "count", I),
        Column("severity", "等级", "发生程度（1–5级）", "severity (1-5)", I),
        Column("accuracy_m", "精度米", "定位精度（米）", "GPS accuracy (m)", R, decimals=1),
        Column("altitude_m", "海拔米", "海拔（米）", "altitude (m)", R, decimals=1),
        Column("position_source", "定位", "定位方式", "position source", T, 10),
        Column("site_code", "发生点", "发生点编号", "site code", T, 32),
        Column("surveyor_name", "调查人", "调查人", "surveyor", T, 100),
        Column("organization", "单位", "单位代码", "organization code", T, 64),
        Column("flags", "标记", "质量标记", "quality flags", T, 100),
        Column("notes", "备注", "备注", "notes", T, 254),
        Column("longitude", "经度", "经度（WGS-84/CGCS2000）", "longitude (WGS-84/CGCS2000)", R, decimals=7),
        Column("latitude", "纬度", "纬度（WGS-84/CGCS2000）", "latitude (WGS-84/CGCS2000)", R, decimals=7),
    ),
)


def observation_record(o: Observation, zone: tzinfo) -> Record:
    surveyor = o.surveyor.display_name if o.surveyor else o.legacy_surveyor
    values = (
        o.id,
        o.species.name_zh,
        o.species.name_sci,
        o.detected,
        _local(o.observed_at, zone),
        o.status.value,
        o.township.code if o.township else None,
        o.township.name_zh if o.township else None,
        o.village.code if o.village else None,
        o.village.short_name if o.village else None,
        o.place_name,
        o.habitat.code if o.habitat else None,
        to_mu(o.area_m2),
        o.cover_pct,
        o.density_per_m2,
        o.egg_masses_per_m2,
        o.count,
        o.severity,
        o.accuracy_m,
        o.altitude_m,
        o.position_source.value,
        o.site.code if o.site else None,
        surveyor,
        o.organization.code,
        ",".join(o.flags) or None,
        o.notes,
        o.longitude,
        o.latitude,
    )
    finding = "" if o.detected else "（未发现）"
    title = f"{o.species.name_zh}{finding} {_local(o.observed_at, zone):%Y-%m-%d}"
    return Record(o.id, o.geometry or point(o.longitude, o.latitude), values, title)


# ---------------------------------------------------------------------------------------------
# Sites

SITES = Layer(
    name="sites",
    title="发生点 Sites",
    columns=(
        Column("id", "ID", "发生点序号", "site id", I),
        Column("code", "编号", "发生点编号", "site code", T, 32),
        Column("species", "物种", "物种中文名", "species (Chinese name)", T, 100),
        Column("name_sci", "学名", "物种学名", "scientific name", T, 150),
        Column("status", "状态", "发生点状态", "status", T, 20),
        Column("township_code", "乡镇码", "乡镇（街道）代码", "township code", T, 12),
        Column("township_name", "乡镇", "乡镇（街道）", "township", T, 100),
        Column("place_name", "地名", "小地名", "place name", T, 200),
        Column("habitat", "生境", "生境代码", "habitat code", T, 50),
        Column("organization", "单位", "单位代码", "organization code", T, 64),
        Column("first_observed_at", "首次", "首次发现时间（北京时间）", "first observed (Beijing time)", D),
        Column("last_observed_at", "最近", "最近调查时间（北京时间）", "last observed (Beijing time)", D),
        Column("longitude", "经度", "经度（WGS-84/CGCS2000）", "longitude (WGS-84/CGCS2000)", R, decimals=7),
        Column("latitude", "纬度", "纬度（WGS-84/CGCS2000）", "latitude (WGS-84/CGCS2000)", R, decimals=7),
    ),
)


def site_record(s: Site, zone: tzinfo) -> Record:
    values = (
        s.id,
        s.code,
        s.species.name_zh,
        s.species.name_sci,
        s.status.value,
        s.township.code if s.township else None,
        s.township.name_zh if s.township else None,
        s.place_name,
        s.habitat.code if s.habitat else None,
        s.organization.code,
        _local(s.first_observed_at, zone),
        _local(s.last_observed_at, zone),
        s.longitude,
        s.latitude,
    )
    return Record(s.id, s.extent or point(s.longitude, s.latitude), values, f"{s.code} {s.species.name_zh}")


# ---------------------------------------------------------------------------------------------
# Control operations

CONTROL_OPERATIONS = Layer(
    name="control_operations",
    title="防治作业 Control operations",
    columns=(
        Column("id", "ID", "作业编号", "operation id", I),
        Column("site_code", "发生点", "发生点编号", "site code", T, 32),
        Column("species", "物种", "物种中文名", "species (Chinese name)", T, 100),
        Column("name_sci", "学名", "物种学名", "scientific name", T, 150),
        Column("method", "方法码", "防治方法代码", "method code", T, 40),
        Column("method_name", "方法", "防治方法", "method", T, 100),
        Column("performed_at", "时间", "作业时间（北京时间）", "performed at (Beijing time)", D),
        Column("area_mu", "面积亩", "防治面积（亩）", "area treated (mu)", R, decimals=4),
        Column("labour_person_days", "用工", "用工（人日）", "labour (person-days)", R, decimals=2),
        Column("cost_yuan", "费用元", "费用（元）", "cost (yuan)", R, decimals=2),
        Column("team", "队伍", "作业队伍", "team", T, 200),
        Column("details", "参数", "方法参数（JSON）", "method details (JSON)", T, 254),
        Column("operator_name", "作业人", "记录人", "recorded by", T, 100),
        Column("organization", "单位", "单位代码", "organization code", T, 64),
        Column("township_code", "乡镇码", "乡镇（街道）代码", "township code", T, 12),
        Column("notes", "备注", "备注", "notes", T, 254),
        Column("longitude", "经度", "发生点经度（WGS-84/CGCS2000）", "site longitude", R, decimals=7),
        Column("latitude", "纬度", "发生点纬度（WGS-84/CGCS2000）", "site latitude", R, decimals=7),
    ),
)


def operation_record(o: ControlOperation, zone: tzinfo) -> Record:
    site = o.site
    values = (
        o.id,
        site.code,
        o.species.name_zh,
        o.species.name_sci,
        o.method.code,
        o.method.name_zh,
        _local(o.performed_at, zone),
        to_mu(o.area_m2),
        o.labour_person_days,
        o.cost_yuan,
        o.team,
        json.dumps(o.details, ensure_ascii=False, sort_keys=True) if o.details else None,
        o.operator.display_name,
        o.organization.code,
        site.township.code if site.township else None,
        o.notes,
        site.longitude,
        site.latitude,
    )
    title = f"{o.method.name_zh} {o.species.name_zh} {_local(o.performed_at, zone):%Y-%m-%d}"
    return Record(o.id, o.geometry or point(site.longitude, site.latitude), values, title)


SOURCES = {
    "observations": Source(OBSERVATIONS, observation_record),
    "sites": Source(SITES, site_record),
    "control_operations": Source(CONTROL_OPERATIONS, operation_record),
}
