"""Finding a case: search by name or number, filter by stage and clinician; htmx swaps just
the results. The search text is posted and never put in a URL (``security/search_tokens.py``)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet, Window
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import push_url

from cases import models
from cases.audit.access import access_list_record
from cases.records import forms as record_forms
from cases.records.selectors import case_search
from cases.security.permissions import Capability, capability_required
from cases.security.search_tokens import search_text, search_token

SEARCH_PAGE_ROWS = 25


def _clinicians() -> Any:
    return models.User.objects.filter(role__in=[models.Role.CLINICIAN, models.Role.CHAIR]).order_by(
        "last_name", "first_name"
    )


def _results_url(request: HttpRequest) -> str:
    """The results URL for a posted search: the filters as they are, the text as a token."""
    params = request.POST.copy()
    for name in ("csrfmiddlewaretoken", "page", "search"):
        params.pop(name, None)
    text = (params.pop("q", [""])[-1] or "").strip()[:100]
    if text:
        params["search"] = search_token(request, text)
    return f"{reverse('cases:case-list')}?{params.urlencode()}"


@capability_required(Capability.VIEW_CLINICAL)
@require_http_methods(["GET", "POST"])
def case_list(request: HttpRequest) -> HttpResponse:
    """Search by name or number, filter by stage and clinician; htmx swaps just the results.

    The search text is posted and never put in a URL (``cases/search_tokens.py``).
    """
    if request.method == "POST":
        url = _results_url(request)
        if not request.htmx:
            return redirect(url)
        request.GET = QueryDict(url.partition("?")[2])
    data = request.GET.copy()
    data["q"] = search_text(request, request.GET.get("search"))
    form = record_forms.CaseSearchForm(data, clinicians=_clinicians())
    form.is_valid()  # an invalid filter is shown with its message and otherwise ignored
    cleaned = getattr(form, "cleaned_data", {})
    clinician = cleaned.get("clinician")
    cases = case_search(
        query=cleaned.get("q") or "",
        stage=cleaned.get("stage") or "",
        clinician_id=clinician.pk if clinician else None,
    )
    page = _results_page(cases, request.GET.get("page"))
    access_list_record(
        user=request.user, case_ids=[case.pk for case in page.object_list], context="case-list"
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    if request.htmx and request.htmx.target == "case-results":
        response = render(request, "cases/records/case_list.html#case-results", context)
        if request.method == "POST":
            push_url(response, f"{reverse('cases:case-list')}?{request.GET.urlencode()}")
        return response
    return render(request, "cases/records/case_list.html", context)


def _results_page(cases: QuerySet[models.Case], number: str | None) -> Page:
    """The page ``Paginator(cases, SEARCH_PAGE_ROWS).get_page(number)`` gives, in two queries.

    The paginator counts the matches, then fetches the page: two passes of the search's filter
    and join over every patient. Here one pass on narrow rows gives the page's ids and the
    total (``COUNT(*) OVER ()``), then the page's cases are fetched by id. A page past the end
    (or below 1) is the last page, as with ``get_page``: a count and a second pass.
    """
    try:
        wanted = int(number)  # as Paginator: anything not an integer is page 1
    except (TypeError, ValueError):
        wanted = 1
    paginator = Paginator(cases, SEARCH_PAGE_ROWS)
    # A page below 1, or whose offset PostgreSQL cannot even take (a bigint), has no rows.
    reachable = wanted >= 1 and wanted * SEARCH_PAGE_ROWS < 2**63
    rows = _page_ids(cases, wanted) if reachable else []
    if rows:
        paginator.count = rows[0][1]
    elif wanted == 1:
        paginator.count = 0  # no match at all: page 1, empty
    else:
        paginator.count = cases.count()
        wanted = paginator.num_pages
        rows = _page_ids(cases, wanted)
    ids = [pk for pk, _total in rows]
    return Page(list(cases.filter(pk__in=ids)) if ids else [], wanted, paginator)


def _page_ids(cases: QuerySet[models.Case], number: int) -> list[tuple[int, int]]:
    """(id, total matches) for each case on page ``number``, in the search's order."""
    bottom = (number - 1) * SEARCH_PAGE_ROWS
    numbered = cases.annotate(total=Window(Count("*"))).values_list("pk", "total")
    return list(numbered[bottom : bottom + SEARCH_PAGE_ROWS])
