"""The reminder log: what is pending, sent, failed or cancelled, and a retry for failed ones."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cases.models import Case, ReminderKind, ReminderState
from cases.reminders import planning as reminder_services
from cases.reminders.selectors import reminder_log, reminder_state_counts
from cases.security.permissions import Capability, capability_required

PAGE_SIZE = 50
RETRY_MESSAGES = {
    "queued": (messages.SUCCESS, "The reminder will be sent again within a minute."),
    "cancelled": (
        messages.INFO,
        "The case's facts no longer call for this reminder, so it was cancelled, not resent.",
    ),
    "unchanged": (messages.WARNING, "That reminder is no longer failed: nothing was changed."),
}


def _filters(request: HttpRequest) -> dict[str, str]:
    """The state and kind filters; unknown values are ignored rather than an error."""
    state = request.GET.get("state", "")
    kind = request.GET.get("kind", "")
    return {
        "state": state if state in ReminderState.values else "",
        "kind": kind if kind in ReminderKind.values else "",
    }


@require_GET
@capability_required(Capability.MANAGE_REMINDERS)
def reminder_list(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    page = Paginator(reminder_log(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    for reminder in page.object_list:
        reminder.case_reference = Case(pk=reminder.case_id).reference
        reminder.case_url = reverse("cases:case-detail", args=[reminder.case_id])
    counts = reminder_state_counts()
    context = {
        "page": page,
        "filters": filters,
        "query": urlencode({key: value for key, value in filters.items() if value}),
        "states": [(value, label, counts[value]) for value, label in ReminderState.choices],
        "kinds": ReminderKind.choices,
    }
    template = "cases/reminders/reminder_list.html"
    if request.htmx:
        template += "#reminder-table"
    return render(request, template, context)


@require_POST
@capability_required(Capability.MANAGE_REMINDERS)
def reminder_retry(request: HttpRequest, reminder_id: int) -> HttpResponse:
    outcome = reminder_services.reminder_retry(user=request.user, reminder_id=reminder_id)
    level, text = RETRY_MESSAGES[outcome]
    messages.add_message(request, level, text)
    # Back to the same filtered view; only our own filter values are carried over.
    filters = {
        key: value
        for key, value in (
            ("state", request.POST.get("state", "")),
            ("kind", request.POST.get("kind", "")),
        )
        if value in ReminderState.values or value in ReminderKind.values
    }
    url = reverse("cases:reminder-list")
    return redirect(f"{url}?{urlencode(filters)}" if filters else url)
