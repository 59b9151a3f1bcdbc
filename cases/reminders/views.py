"""The reminder log: what is pending, sent, failed, expired or cancelled, with each attempt and
its error; a coordinator re-sends a failed reminder or cancels one that no longer applies."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cases.models import Case, ReminderKind, ReminderState
from cases.reminders import planning as reminder_services
from cases.reminders.selectors import PAGE_SIZE, reminder_log
from cases.security.permissions import Capability, capability_required

RETRY_MESSAGES = {
    "queued": (messages.SUCCESS, "The reminder will be sent again within a minute."),
    "cancelled": (
        messages.INFO,
        "The case's facts no longer call for this reminder, so it was cancelled, not resent.",
    ),
    "expired": (
        messages.INFO,
        "What this reminder was about is over, so it was marked expired, not resent.",
    ),
    "unchanged": (messages.WARNING, "That reminder is no longer failed: nothing was changed."),
}
CANCEL_MESSAGES = {
    "cancelled": (messages.SUCCESS, "The reminder was cancelled: it will not be sent."),
    "unchanged": (
        messages.WARNING,
        "That reminder is no longer waiting to be sent: nothing was changed.",
    ),
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
    page = reminder_log(**filters, cursor=request.GET.get("after", ""))
    for reminder in page.rows:
        if reminder.case_id is not None:
            reminder.case_reference = Case(pk=reminder.case_id).reference
            reminder.case_url = reverse("cases:case-detail", args=[reminder.case_id])
        if reminder.state == ReminderState.EXPIRED:
            reminder.expiry_reason = reminder_services.expiry_reason(
                reminder.kind, reminder.event_on, reminder.expires_on
            )
    query = urlencode({key: value for key, value in filters.items() if value})
    context = {
        "page": page,
        "filters": filters,
        "query": query,
        "next_query": urlencode(
            {**{k: v for k, v in filters.items() if v}, "after": page.next_cursor}
        ),
        "states": ReminderState.choices,
        "kinds": ReminderKind.choices,
        "page_size": PAGE_SIZE,
    }
    template = "cases/reminders/reminder_list.html"
    if request.htmx:
        template += "#reminder-table"
    return render(request, template, context)


def _back_to_log(request: HttpRequest) -> HttpResponse:
    """Back to the same filtered view; only our own filter values are carried over."""
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


@require_POST
@capability_required(Capability.MANAGE_REMINDERS)
def reminder_retry(request: HttpRequest, reminder_id: int) -> HttpResponse:
    outcome = reminder_services.reminder_retry(user=request.user, reminder_id=reminder_id)
    level, text = RETRY_MESSAGES[outcome]
    messages.add_message(request, level, text)
    return _back_to_log(request)


@require_POST
@capability_required(Capability.MANAGE_REMINDERS)
def reminder_cancel(request: HttpRequest, reminder_id: int) -> HttpResponse:
    outcome = reminder_services.reminder_cancel(user=request.user, reminder_id=reminder_id)
    level, text = CANCEL_MESSAGES[outcome]
    messages.add_message(request, level, text)
    return _back_to_log(request)
