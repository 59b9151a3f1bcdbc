"""Audit screens for the auditor role: pick a case, read its whole history and every override;
see who opened which patient. Read-only; opening a case here is itself logged."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from cases import models
from cases.audit.access import access_list_record, access_log_record
from cases.audit.trail import change_log, overrides_and_deviations
from cases.security.permissions import Capability, capability_required
from cases.security.search_tokens import search_text, search_token

PAGE_SIZE = 50
ACCESS_SHOWN = 20  # the most recent; the access log, filtered to the case, has the rest
# A case's history grows with its care (every dose, every scan), and a creation lists every
# field: shown a page at a time, oldest first, so drawing it costs the same for any case.
HISTORY_PAGE_SIZE = 25
_REFERENCE = re.compile(r"^TB0*(\d{1,12})$", re.IGNORECASE)


def _param(request: HttpRequest, name: str, limit: int) -> str:
    """A query-string value as safe text: trimmed, bounded, no NUL (PostgreSQL refuses it)."""
    return request.GET.get(name, "").replace("\x00", "").strip()[:limit]


def _flagged_decisions() -> Q:
    return (
        Q(agenda_items__decisions__follows_recommendation=False)
        | ~Q(agenda_items__decisions__overridden_hard_stops=[])
        | ~Q(agenda_items__decisions__corrected_facts=[])
    )


def _search(queryset, query: str):
    """A case reference (TB000123), a hospital number, or the start of a family name."""
    if not query:
        return queryset
    reference = _REFERENCE.match(query)
    if reference:
        return queryset.filter(pk=int(reference.group(1)))
    return queryset.filter(
        Q(patient__hospital_number__iexact=query) | Q(patient__family_name__istartswith=query)
    )


@capability_required(Capability.VIEW_AUDIT)
@require_http_methods(["GET", "POST"])
def case_list(request: HttpRequest) -> HttpResponse:
    # The search is posted and kept behind a token: no name or number in a URL.
    if request.method == "POST":
        params = {"flagged": "1"} if request.POST.get("flagged") == "1" else {}
        text = request.POST.get("q", "").replace("\x00", "").strip()[:100]
        if text:
            params["search"] = search_token(request, text)
        return redirect(f"{reverse('cases:audit-case-list')}?{urlencode(params)}")
    query = search_text(request, request.GET.get("search"))
    flagged_only = request.GET.get("flagged") == "1"
    cases = (
        models.Case.objects.select_related("patient")
        .annotate(flagged=Count("agenda_items__decisions", filter=_flagged_decisions()))
        .order_by("-updated_at", "-id")
    )
    cases = _search(cases, query)
    if flagged_only:
        cases = cases.filter(flagged__gt=0)
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    access_list_record(
        user=request.user, case_ids=[case.pk for case in page], context="audit-case-list"
    )
    return render(
        request,
        "cases/audit/audit_case_list.html",
        {
            "page": page,
            "query": query,
            "search": request.GET.get("search", ""),
            "flagged_only": flagged_only,
        },
    )


def _showed(case_id: int) -> Q:
    """Accesses that showed this case: its own pages, and the lists it appeared in."""
    return Q(case_id=case_id) | Q(case_ids__contains=[case_id])


@capability_required(Capability.VIEW_AUDIT)
@require_GET
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    # A deleted case keeps its history: the events outlive the row.
    case = models.Case.objects.select_related("patient").filter(pk=case_id).first()
    if case is None and not models.Case.pgh_event_model.objects.filter(pgh_obj_id=case_id).exists():
        raise Http404("No such case.")
    access_log_record(user=request.user, case_id=case_id, context="audit-case")
    accesses = models.CaseAccess.objects.filter(_showed(case_id)).select_related("user")
    history = change_log(case_id)
    return render(
        request,
        "cases/audit/audit_case_detail.html",
        {
            "case": case,
            "case_id": case_id,
            "reference": f"TB{case_id:06d}",
            "history": history,
            "history_page": Paginator(history.entries, HISTORY_PAGE_SIZE).get_page(
                request.GET.get("page")
            ),
            "decisions": overrides_and_deviations(case_id),
            "accesses": accesses[:ACCESS_SHOWN],
            "access_count": accesses.count(),
        },
    )


@capability_required(Capability.VIEW_AUDIT)
@require_GET
def access_list(request: HttpRequest) -> HttpResponse:
    """Who opened which case, newest first; optionally one user's, or one case's, accesses."""
    username = _param(request, "user", 150)
    case = _param(request, "case", 12)
    case_id = int(case) if case.isdecimal() else None  # anything else: not a filter
    accesses = models.CaseAccess.objects.select_related("user").order_by("-at", "-id")
    if username:
        accesses = accesses.filter(user__username=username)
    if case_id is not None:
        accesses = accesses.filter(_showed(case_id))
    page = Paginator(accesses, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "username": username, "case_filter": case_id}
    return render(request, "cases/audit/audit_access_list.html", context)


@capability_required(Capability.VIEW_AUDIT)
@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    """Changes to user accounts (role, password, two-factor devices and enrolment links, active
    flag), newest first, with who made each; optionally one user's."""
    username = _param(request, "user", 150)
    events = models.AccountEvent.objects.select_related("user", "actor").order_by("-at", "-id")
    if username:
        events = events.filter(user__username=username)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "cases/audit/audit_account_list.html", {"page": page, "username": username}
    )
