"""The coordinator dashboard: worklists with counts, two charts, and listing a case on a meeting.

Every worklist renders on the page itself (it works without JavaScript); with htmx its
"show all" and page links swap the worklist in place, and its refresh button reloads just it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from cases import models
from cases.audit.access import access_list_record
from cases.common import data_version
from cases.common.kept_html import render_to_keep, serve
from cases.meetings.selectors import agenda_frozen_at, next_meeting
from cases.security.permissions import Capability, capability_required, has_capability
from cases.worklists import queries as worklists
from cases.worklists.plots import Chart, cohort_chart, due_per_week_chart

DASHBOARD_ROWS = 8
PAGE_ROWS = 50


@dataclass
class Panel:
    """One worklist as shown: its count, the rows on show, and where "show all" goes."""

    spec: worklists.WorklistSpec
    count: int
    rows: list[Any]
    meeting: models.Meeting | None
    page: Any = None  # a Paginator page on the full worklist
    capped: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def template(self) -> str:
        return f"cases/worklists/dashboard.html#{self.spec.partial}"

    @property
    def more(self) -> int:
        return self.count - len(self.rows)


def _decorate(spec: worklists.WorklistSpec, rows: list[Any], today: dt.date) -> list[Any]:
    """Day counts the tables show; computed on the rows on screen, so no queries."""
    for row in rows:
        if spec.slug == "results-pending":
            row.days_pending = (today - row.requested_on).days
        elif spec.slug in ("reassessments-overdue", "reimaging-unbooked"):
            row.days_overdue = (today - row.due_on).days
        elif spec.slug == "meeting-incomplete":
            row.missing = worklists.missing_from_flags(row)
        elif spec.slug == "actions":
            row.days_overdue = (today - row.due_on).days
    return rows


def _build_panels(
    specs: tuple[worklists.WorklistSpec, ...], *, today: dt.date, meeting: models.Meeting | None
) -> list[Panel]:
    """The capped panels of these worklists: counts and first rows in one query per shape."""
    plain = tuple(spec for spec in specs if not spec.needs_meeting)
    found = worklists.dashboard_first_rows(plain, today=today, limit=DASHBOARD_ROWS)
    if meeting is not None and any(spec.needs_meeting for spec in specs):
        found |= worklists.meeting_first_rows(meeting, today=today, limit=DASHBOARD_ROWS)
    panels = []
    for spec in specs:
        count, shown = found.get(spec.slug, (0, []))
        panels.append(Panel(spec, count, _decorate(spec, shown, today), meeting))
    return panels


@dataclass(frozen=True)
class ShownPanel:
    """A capped panel as the dashboard shows it: its count and its rendered HTML."""

    spec: worklists.WorklistSpec
    count: int
    html: str
    case_ids: tuple[int, ...] = ()  # the cases its rows show, for the access log


def _panel_key(
    spec: worklists.WorklistSpec,
    versions: dict[str, str] | None,
    today: dt.date,
    meeting: models.Meeting | None,
    can_list: bool,
) -> str | None:
    meeting_id = meeting.pk if meeting is not None else "-"
    return data_version.key(f"panel:{spec.slug}", spec.reads, versions, today, meeting_id, can_list)


def _shown_panels(
    request: HttpRequest,
    specs: tuple[worklists.WorklistSpec, ...],
    *,
    today: dt.date,
    meeting: Any,
    versions: dict[str, str] | None,
) -> list[ShownPanel]:
    """Each panel from the cache while none of the tables it reads has changed; the others are
    computed together (one query per shape, as ever) and kept."""
    can_list = _can(request, Capability.LIST_CASES)
    keys = {spec.slug: _panel_key(spec, versions, today, meeting, can_list) for spec in specs}
    cached = data_version.get_many(keys.values())
    found = {spec.slug: cached[keys[spec.slug]] for spec in specs if keys[spec.slug] in cached}
    stale = tuple(spec for spec in specs if spec.slug not in found)
    for panel in _build_panels(stale, today=today, meeting=meeting) if stale else []:
        html = render_to_keep(panel.template, {"panel": panel, "can_list": can_list})
        ids = tuple(_case_id(row) for row in panel.rows)
        found[panel.spec.slug] = data_version.remember(
            keys[panel.spec.slug], (panel.count, html, ids)
        )
    shown = []
    for spec in specs:
        count, html, ids = found[spec.slug]
        shown.append(ShownPanel(spec, count, serve(request, html), ids))
    return shown


def _case_id(row: Any) -> int:
    """The case a worklist row shows: the row itself, or the case it belongs to."""
    return row.pk if isinstance(row, models.Case) else row.case_id


def _log_shown(request: HttpRequest, case_ids: Iterable[int], context: str) -> None:
    access_list_record(user=request.user, case_ids=case_ids, context=context)


def _context() -> dict[str, Any]:
    return {"today": timezone.localdate(), "meeting": next_meeting()}


def _charts(today: dt.date, versions: dict[str, str] | None) -> dict[str, str]:
    """The two charts, drawn and cached like the panels (they name no patient)."""
    cohort_key = data_version.key("chart:cohort", [models.Case], versions)
    due_key = data_version.key("chart:due", [models.Reassessment, models.Case], versions, today)

    def cohort() -> str:
        return _draw(cohort_chart(worklists.cohort_by_stage()))

    def due_weeks() -> str:
        return _draw(due_per_week_chart(worklists.reassessments_due_by_week(today=today)))

    found = data_version.get_many([cohort_key, due_key])
    if cohort_key not in found and due_key not in found:
        # Both drawn afresh: their numbers in one query (the page's budget is 12).
        by_stage, by_week = worklists.chart_counts(today=today)
        return {
            "cohort_html": data_version.remember(cohort_key, _draw(cohort_chart(by_stage))),
            "due_weeks_html": data_version.remember(due_key, _draw(due_per_week_chart(by_week))),
        }
    return {
        "cohort_html": found.get(cohort_key) or data_version.cached(cohort_key, cohort),
        "due_weeks_html": found.get(due_key) or data_version.cached(due_key, due_weeks),
    }


def _draw(chart: Chart) -> str:
    """A chart's HTML (a SafeString, which stays one in the cache)."""
    return render_to_string("cases/worklists/plots.html#bar-chart", {"chart": chart})


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    if not _can(request, Capability.VIEW_CLINICAL):
        # Roles that manage the system but see no patients (administrator) land here.
        return render(request, "cases/worklists/dashboard_no_access.html")
    base = _context()
    today, meeting = base["today"], base["meeting"]
    versions = data_version.versions()  # before any data is read: see cases/data_version.py
    panels = _shown_panels(
        request, worklists.WORKLISTS, today=today, meeting=meeting, versions=versions
    )
    _log_shown(request, (pk for panel in panels for pk in panel.case_ids), "dashboard")
    context = base | {
        "panels": panels,
        "after_meeting": worklists.AFTER_MEETING_WORKLISTS,
        **_charts(today, versions),
        "frozen_at": agenda_frozen_at(meeting) if meeting else None,
        "frozen": meeting is not None and timezone.now() >= agenda_frozen_at(meeting),
    }
    return render(request, "cases/worklists/dashboard.html", context)


def _can(request: HttpRequest, capability: Capability) -> bool:
    return has_capability(request.user, capability)


@capability_required(Capability.VIEW_CLINICAL)
@require_GET
def worklist_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One worklist in full, paginated; its panel alone for htmx (swapped in place)."""
    spec = worklists.WORKLISTS_BY_SLUG.get(slug)
    if spec is None:
        raise Http404("No such worklist.")
    base = _context()
    today, meeting = base["today"], base["meeting"]
    rows = worklists.worklist_queryset(spec, today=today, meeting=meeting)
    if rows is None:
        panel = Panel(spec, 0, [], meeting, capped=False)
    else:
        page = Paginator(rows, PAGE_ROWS).get_page(request.GET.get("page"))
        rows_on_page = _decorate(spec, list(page.object_list), today)
        panel = Panel(spec, page.paginator.count, rows_on_page, meeting, page=page, capped=False)
        _log_shown(request, (_case_id(row) for row in rows_on_page), f"worklist:{slug}")
    context = base | {"panel": panel, "can_list": _can(request, Capability.LIST_CASES)}
    if request.htmx:
        return render(request, panel.template, context)
    return render(request, "cases/worklists/worklist_detail.html", context)


@capability_required(Capability.VIEW_CLINICAL)
@require_GET
def worklist_refresh(request: HttpRequest, slug: str) -> HttpResponse:
    """The dashboard panel of one worklist (capped), for htmx refresh."""
    spec = worklists.WORKLISTS_BY_SLUG.get(slug)
    if spec is None:
        raise Http404("No such worklist.")
    if not request.htmx:
        return redirect(reverse("cases:home") + f"#{spec.partial}")
    base = _context()
    [panel] = _shown_panels(
        request,
        (spec,),
        today=base["today"],
        meeting=base["meeting"],
        versions=data_version.versions(),
    )
    _log_shown(request, panel.case_ids, f"worklist-panel:{slug}")
    return HttpResponse(panel.html)
