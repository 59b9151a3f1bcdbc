"""The MDT's audit reports: every figure for a date range, and each figure as CSV."""

from __future__ import annotations

import csv
import datetime as dt

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cases.common.forms import date_field
from cases.followup.reports.charts import bar_chart
from cases.followup.reports.queries import REPORTS
from cases.security.permissions import Capability, capability_required

C = Capability
MAX_RANGE_DAYS = 3660


class RangeForm(forms.Form):
    start = date_field("From", required=False)
    end = date_field("To", required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start of the range is after its end.")
        if (
            data.get("start")
            and data.get("end")
            and (data["end"] - data["start"]).days > MAX_RANGE_DAYS
        ):
            raise forms.ValidationError("Choose a range of at most ten years.")
        return data


def _range(request: HttpRequest) -> tuple[RangeForm, dt.date, dt.date]:
    """The range asked for; by default the last twelve months up to today."""
    today = timezone.localdate()
    form = RangeForm(request.GET or None)
    start, end = today.replace(year=today.year - 1) + dt.timedelta(days=1), today
    if form.is_bound and form.is_valid():
        start = form.cleaned_data.get("start") or start
        end = form.cleaned_data.get("end") or end
    if not form.is_bound:
        form = RangeForm(initial={"start": start, "end": end})
    return form, start, end


@require_GET
@capability_required(C.VIEW_REPORTS)
def report_page(request: HttpRequest) -> HttpResponse:
    form, start, end = _range(request)
    figures = []
    if not form.errors:
        for build in REPORTS.values():
            figure = build(start, end)
            figure.chart = bar_chart(
                figure.bars,
                unit=figure.chart_unit,
                reference=figure.reference,
                reference_label=figure.reference_label,
            )
            figures.append(figure)
    return render(
        request,
        "cases/followup/reports.html",
        {"form": form, "figures": figures, "start": start, "end": end},
        status=422 if form.errors else 200,
    )


@require_GET
@capability_required(C.VIEW_REPORTS)
def report_csv(request: HttpRequest, slug: str) -> HttpResponse:
    if slug not in REPORTS:
        raise Http404("No such report")
    form, start, end = _range(request)
    if form.errors:
        return HttpResponse(
            " ".join(form.non_field_errors()), status=400, content_type="text/plain"
        )
    figure = REPORTS[slug](start, end)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mdt-{slug}-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow([figure.title, f"{start} to {end}"])
    writer.writerow(["Definition", figure.definition])
    value = "no data" if figure.value is None else f"{figure.value:.1f}"
    writer.writerow([f"Numerator: {figure.numerator_label}", figure.numerator or 0])
    writer.writerow([f"Denominator: {figure.denominator_label}", figure.denominator or 0])
    writer.writerow(["Share (%)", value])
    writer.writerow([])
    writer.writerow(figure.headers)
    writer.writerows(figure.rows)
    return response
