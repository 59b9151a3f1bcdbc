"""The referral that brought a case to the MDT: one per case, recorded and corrected."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from cases import models
from cases.records.services.checks import (
    Problems,
    check_version,
    local_today,
    save_row,
    update_row,
)
from cases.security.permissions import Capability, require

REFERRAL_FIELDS = ("source", "referrer", "received_on", "urgency", "question")


def _check_referral(
    p: Problems,
    *,
    source: str,
    referrer: str,
    received_on: dt.date | None,
    urgency: str,
    question: str,
    today: dt.date,
) -> None:
    p.choice("source", source, models.ReferralSource)
    p.choice("urgency", urgency, models.ReferralUrgency)
    p.text("referrer", referrer, label="Referrer", max_length=120, required=True)
    p.date(
        "received_on",
        received_on,
        label="Date received",
        today=today,
        past_only=True,
        required=True,
    )
    p.text("question", question, label="The question for the MDT", max_length=1000, required=True)


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    fields = {name: fields.get(name) for name in REFERRAL_FIELDS}
    fields["referrer"] = (fields["referrer"] or "").strip()
    fields["question"] = (fields["question"] or "").strip()
    fields["urgency"] = fields["urgency"] or models.ReferralUrgency.ROUTINE
    fields["source"] = fields["source"] or ""
    return fields


@transaction.atomic
def referral_create(*, user: Any, case_id: int, **fields: Any) -> models.Referral:
    """Record the case's referral. Fields: ``REFERRAL_FIELDS``."""
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.get(pk=case_id)
    fields = _clean(fields)
    p = Problems()
    _check_referral(p, today=local_today(), **fields)
    if models.Referral.objects.filter(case=case).exists():
        p.add("source", "This case's referral is already recorded: edit it instead.")
    p.raise_if_any()
    referral = models.Referral(case=case, **fields)
    save_row(referral)
    return referral


@transaction.atomic
def referral_update(
    *, user: Any, referral_id: int, expected_version: int, **fields: Any
) -> models.Referral:
    require(user, Capability.EDIT_CASES)
    fields = _clean(fields)
    p = Problems()
    _check_referral(p, today=local_today(), **fields)
    p.raise_if_any()
    update_row(
        models.Referral,
        pk=referral_id,
        expected_version=check_version(expected_version),
        changes=fields,
    )
    return models.Referral.objects.get(pk=referral_id)
