"""What goes into one census workbook: the bureau's template narrowed to the export's kind, its cover, and
the rows of each sheet by source; `write_export` writes it (app/exports/workbook.py does the openpyxl).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa

from app.accounts.models import Organization
from app.accounts.organizations import lineage
from app.control.models import ControlOperation
from app.district.services import find_townships, get_district
from app.exports.layouts import Template, bureaus, load_template
from app.exports.models import ExportKind
from app.exports.plot_sheet import plot_rows
from app.exports.rows import STATUS_ZH, Scope, control_rows, follow_up_rows, local, observation_rows
from app.exports.summaries import (
    category_summary_rows,
    control_by_method_rows,
    control_by_township_rows,
    follow_up_summary_rows,
    species_summary_rows,
    species_township_rows,
    township_summary_rows,
)
from app.exports.survey_routes import campaign_cover_line, campaign_filter_text, route_rows
from app.exports.workbook import write_census
from app.extensions import db
from app.species.models import Species
from app.units import SQUARE_METRES_PER_MU

SOURCES_BY_KIND = {
    ExportKind.CENSUS: None,  # every sheet
    ExportKind.CONTROL: {"control_operations", "control_by_method", "control_by_township"},
    ExportKind.FOLLOW_UPS: {"follow_ups", "follow_up_summary"},
}


ROW_SOURCES: dict[str, Callable[[Scope], Iterator[dict[str, Any]]]] = {
    "observations": observation_rows,
    "control_operations": control_rows,
    "follow_ups": follow_up_rows,
    "species_township": species_township_rows,
    "species_summary": species_summary_rows,
    "category_summary": category_summary_rows,
    "control_by_method": control_by_method_rows,
    "control_by_township": control_by_township_rows,
    "township_summary": township_summary_rows,
    "follow_up_summary": follow_up_summary_rows,
    "survey_routes": route_rows,
    "plots": plot_rows,
}


def template_bureau(bureau: str) -> str:
    """Whose template a census is written in: the bureau's own; a unit's (a forest farm, a township
    station) its bureau's, as its census categories are (counting.census_categories); agriculture's for
    the district and an organization under no bureau with a template."""
    shipped = bureaus()
    return next((code for code in lineage(bureau) if code in shipped), "agriculture")


def template_for(bureau: str, kind: ExportKind) -> Template:
    """The template of the census's bureau (`template_bureau`), narrowed to the kind."""
    template = load_template(template_bureau(bureau))
    sources = SOURCES_BY_KIND[kind]
    return template if sources is None else template.restricted_to(sources)


class LazyRows(Mapping[str, Iterable[dict[str, Any]]]):
    """Rows by source, each query started only when its sheet is written (and afresh for each sheet)."""

    def __init__(self, scope: Scope, sources: Iterable[str]):
        self.scope = scope
        self.sources = sorted(set(sources))

    def __getitem__(self, source: str) -> Iterable[dict[str, Any]]:
        if source not in self.sources:
            raise KeyError(source)
        return ROW_SOURCES[source](self.scope)

    def __iter__(self) -> Iterator[str]:
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)


FILTER_ZH = {
    "species_id": "物种",
    "township_code": "乡镇",
    "status": "审核状态",
    "detected": "是否发现",
    "organization": "调查单位",
    "campaign_id": "调查任务",
}


def _filter_text(name: str, value: Any) -> str:
    """One observation filter as the cover shows it: by name, not by code or id."""
    shown: Any = value
    if name == "species_id":
        shown = db.session.scalar(sa.select(Species.name_zh).where(Species.id == value)) or value
    elif name == "township_code":
        shown = "、".join(t.name_zh for t in find_townships(str(value))) or value
    elif name == "status":
        shown = STATUS_ZH.get(str(value), value)
    elif name == "detected":
        shown = "是" if value else "否"
    elif name == "organization":
        shown = db.session.scalar(sa.select(Organization.name).where(Organization.code == value)) or value
    elif name == "campaign_id":
        shown = campaign_filter_text(value)
    return f"{FILTER_ZH.get(name, name)}：{shown}"


def period_zh(first: date | None, last: date | None) -> str:
    """统计时段 as the cover says it: both days, one open end said in words, or no limit at all."""
    if first and last:
        return f"{first.isoformat()}—{last.isoformat()}"
    if first:
        return f"{first.isoformat()} 起（不限截止日期）"
    if last:
        return f"截至 {last.isoformat()}（不限起始日期）"
    return "全部记录（不限起止日期）"


def cover_lines(
    *, bureau: str, kind: ExportKind, scope: Scope, generated_by: str, generated_at: datetime
) -> list[tuple[str, Any]]:
    district = get_district()
    district_name = f"{district.name}（{district.code}）" if district else "—"
    period = period_zh(scope.date_from, scope.date_to)
    filters = "；".join(_filter_text(k, v) for k, v in sorted(scope.filters.items())) or "无"
    kinds = {
        ExportKind.CENSUS: "外来入侵物种普查表",
        ExportKind.CONTROL: "防治作业表",
        ExportKind.FOLLOW_UPS: "复查表",
    }
    if scope.census.organization_ids is None:
        unit = district.name if district else bureau
        coverage = "全区各单位的记录（每条记录计一次）"
    else:
        names = dict(
            db.session.execute(
                sa.select(Organization.code, Organization.name).where(
                    Organization.id.in_(sorted(scope.census.organization_ids))
                )
            ).all()
        )
        unit = names.pop(bureau, bureau)
        units = f"及下属单位（{'、'.join(sorted(names.values()))}）" if names else ""
        coverage = f"本单位{units}的记录"
    statuses = "、".join(STATUS_ZH[status.value] for status in scope.statuses)
    only = "仅" if len(scope.statuses) == 1 else ""
    return [
        ("表名", kinds[kind]),
        ("行政区", district_name),
        ("填报单位", unit),
        ("统计范围", coverage),
        ("统计时段", period),
        ("审核状态", f"{only}{statuses}的调查记录"),
        ("筛选条件", filters),
        *campaign_cover_line(scope.filters),
        ("坐标系", "EPSG:4490（CGCS2000）/ WGS-84，十进制度"),
        ("面积单位", f"亩（1 亩 = {SQUARE_METRES_PER_MU:.2f} 平方米）"),
        ("生成时间", local(generated_at)),
        ("生成人", generated_by),
    ]


def write_export(
    target: BinaryIO | Path,
    *,
    bureau: str,
    kind: ExportKind,
    date_from: date | None,
    date_to: date | None,
    filters: dict[str, Any],
    generated_by: str,
    on_progress: Callable[[float, int], None] | None = None,
) -> int:
    """Write one workbook; returns the number of detail rows. `on_progress(fraction, rows)`."""
    scope = Scope(bureau, date_from, date_to, filters)
    template = template_for(bureau, kind)
    sources = {sheet.source for sheet in template.sheets}
    expected = 0
    if "observations" in sources:
        expected += (
            db.session.scalar(sa.select(sa.func.count()).select_from(scope.observation_ids().subquery())) or 0
        )
    if "control_operations" in sources:
        expected += (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(ControlOperation).where(*scope.operation_where())
            )
            or 0
        )
    rows = LazyRows(scope, sources)

    def progress(done: int) -> None:
        if on_progress is not None:
            on_progress(min(done / expected, 0.99) if expected else 0.5, done)

    counts = write_census(
        target,
        template,
        cover=cover_lines(
            bureau=bureau, kind=kind, scope=scope, generated_by=generated_by, generated_at=datetime.now(UTC)
        ),
        rows=rows,
        on_progress=progress,
    )
    detail = {"observations", "control_operations", "follow_ups"}
    return sum(n for key, n in counts.items() if _source_of(template, key) in detail)


def _source_of(template: Template, sheet_key: str) -> str | None:
    return next((s.source for s in template.sheets if s.key == sheet_key), None)
