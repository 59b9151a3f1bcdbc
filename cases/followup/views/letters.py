"""Outcome letters: an outcome's letters and follow-ups, one letter (HTML or PDF), its check and
sending, the patient's letter, and the administrator's templates with a preview."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateSyntaxError
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.audit.access import access_log_record
from cases.common.forms import add_service_errors
from cases.common.services import ConflictError
from cases.followup import services as svc
from cases.followup.forms import FollowUpForm, LetterStepForm, LetterTemplateForm
from cases.followup.letters import (
    current_letter_html,
    pdf_from_html,
    sample_html,
    template_for,
    template_for_default,
)
from cases.followup.selectors import follow_ups_of_item, letters_of_item
from cases.models import AgendaItem, FollowUp, LetterTemplate, OutcomeLetter, RecipientKind
from cases.security.permissions import Capability, capability_required

C = Capability


def _item_or_404(item_id: int) -> AgendaItem:
    item = (
        AgendaItem.objects.select_related("meeting", "case__patient", "signed_off_by")
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        raise Http404("No such agenda item")
    return item


def _letter_or_404(letter_id: int) -> OutcomeLetter:
    letter = (
        OutcomeLetter.objects.select_related(
            "case__patient", "agenda_item__meeting", "checked_by", "sent_by"
        )
        .filter(pk=letter_id)
        .first()
    )
    if letter is None:
        raise Http404("No such letter")
    return letter


@require_GET
@capability_required(C.VIEW_CLINICAL)
def outcome_after(request: HttpRequest, item_id: int) -> HttpResponse:
    """After the meeting, for one outcome: its letters and the follow-up of its recommendations."""
    item = _item_or_404(item_id)
    access_log_record(user=request.user, case_id=item.case_id, context="outcome-letters")
    return render(request, "cases/followup/outcome_after.html", _after_context(item))


def _after_context(item: AgendaItem, **forms: object) -> dict[str, object]:
    letters = letters_of_item(item.pk)
    follow_ups = follow_ups_of_item(item.pk)
    for follow_up in follow_ups:
        follow_up.form = forms.get(f"fu{follow_up.pk}") or FollowUpForm(
            prefix_id=follow_up.pk,
            initial={"version": follow_up.version, "status": follow_up.status},
        )
    return {
        "item": item,
        "case": item.case,
        "patient": item.case.patient,
        "letters": letters,
        "follow_ups": follow_ups,
        "has_patient_letter": any(x.kind == RecipientKind.PATIENT for x in letters),
    }


@require_GET
@capability_required(C.VIEW_CLINICAL)
def letter_detail(request: HttpRequest, letter_id: int) -> HttpResponse:
    """The letter on screen, printable; with its status and, for those who may, check and send."""
    letter = _letter_or_404(letter_id)
    access_log_record(user=request.user, case_id=letter.case_id, context="outcome-letter")
    return render(
        request,
        "cases/followup/letter_page.html",
        {"letter": letter, "body": current_letter_html(letter), "case": letter.case},
    )


@require_GET
@capability_required(C.VIEW_CLINICAL)
def letter_pdf(request: HttpRequest, letter_id: int) -> HttpResponse:
    """The letter as a PDF; where the PDF renderer cannot load, the printable page says why."""
    letter = _letter_or_404(letter_id)
    access_log_record(user=request.user, case_id=letter.case_id, context="outcome-letter-pdf")
    body = current_letter_html(letter)
    document = render_to_string(
        "cases/followup/letter_pdf.html", {"body": body, "reference": letter.case.reference}
    )
    pdf = pdf_from_html(document)
    if pdf.content is None:
        return render(
            request,
            "cases/followup/letter_page.html",
            {"letter": letter, "body": body, "case": letter.case, "pdf_problem": pdf.problem},
        )
    response = HttpResponse(pdf.content, content_type="application/pdf")
    # The case reference only: no patient identifier in a file name that may be logged.
    name = f"mdt-outcome-{letter.case.reference}-{letter.kind}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _letter_step(request: HttpRequest, letter_id: int, step: str) -> HttpResponse:
    letter = _letter_or_404(letter_id)
    form = LetterStepForm(request.POST)
    problem = ""
    if not form.is_valid():
        problem = "The form was incomplete: reload the letter and try again."
    else:
        service = svc.letter_check if step == "check" else svc.letter_send
        try:
            service(
                user=request.user,
                letter_id=letter.pk,
                expected_version=form.cleaned_data["version"],
            )
        except (ValidationError, ConflictError) as error:
            problem = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    if problem:
        messages.error(request, problem)
    elif step == "check":
        messages.success(request, "Letter checked: it can now be sent.")
    else:
        messages.success(request, "Letter marked sent.")
    return redirect("cases:letter-detail", letter.pk)


@require_POST
@capability_required(C.CHECK_LETTERS)
def letter_check(request: HttpRequest, letter_id: int) -> HttpResponse:
    return _letter_step(request, letter_id, "check")


@require_POST
@capability_required(C.SEND_LETTERS)
def letter_send(request: HttpRequest, letter_id: int) -> HttpResponse:
    return _letter_step(request, letter_id, "send")


@require_POST
@capability_required(C.RECORD_DECISIONS)
def patient_letter_add(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item_or_404(item_id)
    try:
        svc.patient_letter_add(user=request.user, agenda_item_id=item.pk)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "A plain-language letter to the patient was drafted.")
    return redirect("cases:outcome-after", item.pk)


@require_POST
@capability_required(C.RECORD_FOLLOW_UP)
def follow_up_update(request: HttpRequest, follow_up_id: int) -> HttpResponse:
    follow_up = get_object_or_404(FollowUp, pk=follow_up_id)
    form = FollowUpForm(request.POST, prefix_id=follow_up.pk)
    if form.is_valid():
        data = form.cleaned_data
        try:
            svc.follow_up_update(
                user=request.user,
                follow_up_id=follow_up.pk,
                status=data["status"],
                status_on=data["status_on"],
                not_done_reason=data["not_done_reason"],
                not_done_text=data["not_done_text"],
                expected_version=data["version"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except ConflictError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Follow-up updated.")
            url = reverse("cases:outcome-after", args=[follow_up.agenda_item_id])
            return redirect(f"{url}#follow-up-{follow_up.pk}")
    item = _item_or_404(follow_up.agenda_item_id)
    return render(
        request,
        "cases/followup/outcome_after.html",
        _after_context(item, **{f"fu{follow_up.pk}": form}),
        status=422,
    )


# --- The administrator's templates ---------------------------------------------------------------


@require_GET
@capability_required(C.EDIT_LETTER_TEMPLATES)
def letter_template_list(request: HttpRequest) -> HttpResponse:
    stored = {t.kind: t for t in LetterTemplate.objects.select_related("updated_by")}
    templates = [
        (kind, label, stored.get(kind) or template_for_default(kind))
        for kind, label in RecipientKind.choices
    ]
    return render(request, "cases/followup/template_list.html", {"templates": templates})


@require_http_methods(["GET", "POST"])
@capability_required(C.EDIT_LETTER_TEMPLATES)
def letter_template_edit(request: HttpRequest, kind: str) -> HttpResponse:
    """Edit one kind's words; "Preview" shows a fictional patient's letter with them unsaved."""
    if kind not in RecipientKind.values:
        raise Http404("No such kind of letter")
    stored = template_for(kind)
    version = stored.version if stored.pk else 0
    status = 200
    if request.method == "POST":
        form = LetterTemplateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            draft = LetterTemplate(
                kind=kind,
                salutation=data["salutation"],
                opening=data["opening"],
                closing=data["closing"],
            )
            if "preview" in request.POST:
                try:
                    preview = sample_html(kind, draft)
                except TemplateSyntaxError:
                    form.add_error(None, "The placeholders cannot be read: see the help below.")
                    preview = ""
                return render(
                    request,
                    "cases/followup/template_edit.html",
                    {
                        "form": form,
                        "kind": kind,
                        "label": RecipientKind(kind).label,
                        "preview": preview,
                    },
                )
            try:
                svc.letter_template_save(
                    user=request.user,
                    kind=kind,
                    salutation=data["salutation"],
                    opening=data["opening"],
                    closing=data["closing"],
                    expected_version=data["version"],
                )
            except ValidationError as error:
                add_service_errors(form, error)
            except ConflictError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"The {RecipientKind(kind).label} letter was saved.")
                return redirect("cases:letter-template-list")
        status = 422
    else:
        form = LetterTemplateForm(
            initial={
                "version": version,
                "salutation": stored.salutation,
                "opening": stored.opening,
                "closing": stored.closing,
            }
        )
    preview = sample_html(kind, stored)
    return render(
        request,
        "cases/followup/template_edit.html",
        {"form": form, "kind": kind, "label": RecipientKind(kind).label, "preview": preview},
        status=status,
    )
