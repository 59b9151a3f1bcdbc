"""Staging and pathology: the AJCC 8th-edition rules (pure), the same rules in PostgreSQL's
check constraints, and the services' clinical messages (a future date, an MRI pelvis of a colon
primary, a CRM status that contradicts its distance)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from cases import models
from cases.pathway.staging import (
    M_CATEGORIES,
    N_CATEGORIES,
    T_CATEGORIES,
    crm_status_for_distance,
    stage_group,
    tnm_problems,
)
from cases.records import services as records
from tests.conftest import make_case, signed_in
from tests.records.test_models_constraints import refused as db_refuses

D = dt.date
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
TODAY = D(2026, 3, 10)

# AJCC Cancer Staging Manual, 8th edition, colon and rectum: prognostic stage groups.
STAGE_TABLE = [
    ("Tis", "N0", "M0", "0"),
    ("T1", "N0", "M0", "I"),
    ("T2", "N0", "M0", "I"),
    ("T3", "N0", "M0", "IIA"),
    ("T4a", "N0", "M0", "IIB"),
    ("T4b", "N0", "M0", "IIC"),
    ("T1", "N1a", "M0", "IIIA"),
    ("T2", "N1b", "M0", "IIIA"),
    ("T2", "N1c", "M0", "IIIA"),
    ("T1", "N2a", "M0", "IIIA"),
    ("T3", "N1a", "M0", "IIIB"),
    ("T4a", "N1c", "M0", "IIIB"),
    ("T2", "N2a", "M0", "IIIB"),
    ("T3", "N2a", "M0", "IIIB"),
    ("T1", "N2b", "M0", "IIIB"),
    ("T2", "N2b", "M0", "IIIB"),
    ("T4a", "N2a", "M0", "IIIC"),
    ("T3", "N2b", "M0", "IIIC"),
    ("T4a", "N2b", "M0", "IIIC"),
    ("T4b", "N1a", "M0", "IIIC"),
    ("T4b", "N1c", "M0", "IIIC"),
    ("T4b", "N2b", "M0", "IIIC"),
    ("T3", "N1a", "M1a", "IVA"),
    ("TX", "NX", "M1a", "IVA"),
    ("T0", "N0", "M1b", "IVB"),
    ("T2", "N2b", "M1c", "IVC"),
    # Not placed in a group by the manual.
    ("TX", "N0", "M0", None),
    ("T0", "N1a", "M0", None),
    ("T3", "NX", "M0", None),
    # Not valid combinations at all.
    ("T0", "N1c", "M0", None),
    ("Tis", "N1a", "M0", None),
    ("T3", "N1", "M0", None),
    ("T3", "N0", "M1", None),
]


@pytest.mark.parametrize(("t", "n", "m", "group"), STAGE_TABLE)
def test_the_stage_group_is_the_8th_editions(t, n, m, group):
    assert stage_group(t, n, m) == group


@pytest.mark.parametrize(
    ("mm", "status"),
    [
        (Decimal("0"), "involved"),
        (Decimal("1.0"), "involved"),
        (Decimal("1.1"), "threatened"),
        (Decimal("2.0"), "threatened"),
        (Decimal("2.1"), "clear"),
        (Decimal("12"), "clear"),
    ],
)
def test_the_crm_status_follows_the_distance(mm, status):
    assert crm_status_for_distance(mm) == status


def test_the_models_offer_exactly_the_engines_categories():
    assert tuple(models.TCategory.values) == T_CATEGORIES
    assert tuple(models.NCategory.values) == N_CATEGORIES
    assert tuple(models.MCategory.values) == M_CATEGORIES


@pytest.mark.django_db
def test_postgresql_refuses_exactly_the_combinations_the_engine_refuses(case):
    """Every T × N × M of the 8th edition, and the values it does not have."""
    kinds = itertools.product([*T_CATEGORIES, "T4"], [*N_CATEGORIES, "N1"], [*M_CATEGORIES, "M1"])
    for t, n, m in kinds:
        bad = bool(tnm_problems(t, n, m))
        assert (
            db_refuses(
                models.TnmStaging.objects.create,
                case=case,
                kind="clinical",
                t=t,
                n=n,
                m=m,
                staged_on=D(2026, 1, 5),
            )
            == bad
        ), (t, n, m)
        models.TnmStaging.objects.all().delete()  # one staging of a kind per case


@pytest.mark.django_db
def test_postgresql_refuses_a_bad_mri_pelvis(case):
    good = {
        "case": case,
        "performed_on": D(2026, 1, 5),
        "t": "T3",
        "n": "N1",
        "crm": "threatened",
        "crm_distance_mm": Decimal("1.5"),
        "emvi": "positive",
        "tumour_height_cm": Decimal("6"),
    }
    create = models.PelvicMri.objects.create
    assert db_refuses(create, **{**good, "tumour_height_cm": Decimal("0")})
    assert db_refuses(create, **{**good, "tumour_height_cm": Decimal("-2")})
    assert db_refuses(create, **{**good, "tumour_height_cm": Decimal("25")})
    assert db_refuses(create, **{**good, "crm_distance_mm": Decimal("-0.5")})
    assert db_refuses(create, **{**good, "crm": "unknown"})
    assert db_refuses(create, **{**good, "emvi": "maybe"})
    assert db_refuses(create, **{**good, "t": "T3c"})
    assert db_refuses(create, **{**good, "n": "N1a"})
    assert not db_refuses(create, **good)
    assert db_refuses(create, **good)  # the same day twice


@pytest.mark.django_db
def test_postgresql_refuses_a_histology_that_contradicts_its_type(case):
    good = {
        "case": case,
        "specimen": "biopsy",
        "reported_on": D(2026, 1, 5),
        "histological_type": "mucinous_adenocarcinoma",
        "grade": "low",
        "mucinous": True,
    }
    create = models.Histology.objects.create
    assert db_refuses(create, **{**good, "mucinous": False})
    assert db_refuses(
        create, **{**good, "histological_type": "signet_ring_cell_carcinoma", "signet_ring": False}
    )
    assert db_refuses(create, **{**good, "grade": "G2"})
    assert db_refuses(create, **{**good, "specimen": "smear"})
    assert not db_refuses(create, **good)


@pytest.mark.django_db
def test_postgresql_refuses_a_referral_without_a_question_or_a_second_one(case):
    good = {
        "case": case,
        "source": "gp",
        "referrer": "Dr A Jones, Riverside Surgery",
        "received_on": D(2026, 1, 2),
        "question": "Liver metastases: resectable?",
    }
    create = models.Referral.objects.create
    assert db_refuses(create, **{**good, "question": "  "})
    assert db_refuses(create, **{**good, "referrer": ""})
    assert db_refuses(create, **{**good, "source": "pharmacy"})
    assert db_refuses(create, **{**good, "urgency": "whenever"})
    assert not db_refuses(create, **good)
    assert db_refuses(create, **good)  # one referral per case


# --- Services ---------------------------------------------------------------------------------


def _messages(call, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        call(**kwargs)
    return {k: [str(m) for e in v for m in e] for k, v in info.value.error_dict.items()}


@pytest.fixture
def user(users):
    return users["clinician"]


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen")
def test_future_dates_are_refused_with_the_day_named(user, case):
    tomorrow = TODAY + dt.timedelta(days=1)
    words = "cannot be in the future (today is 10 Mar 2026)"
    got = _messages(
        records.tnm_staging_create,
        user=user,
        case_id=case.pk,
        kind="clinical",
        t="T3",
        n="N1a",
        m="M1a",
        staged_on=tomorrow,
    )
    assert any(words in m for m in got["staged_on"])
    got = _messages(
        records.pelvic_mri_create,
        user=user,
        case_id=case.pk,
        performed_on=tomorrow,
        t="T3",
        n="N1",
        crm="clear",
        emvi="negative",
        tumour_height_cm=Decimal("7"),
    )
    assert any(words in m for m in got["performed_on"])
    got = _messages(
        records.histology_create,
        user=user,
        case_id=case.pk,
        specimen="biopsy",
        reported_on=tomorrow,
        histological_type="adenocarcinoma",
        grade="low",
    )
    assert any(words in m for m in got["reported_on"])
    got = _messages(
        records.referral_create,
        user=user,
        case_id=case.pk,
        source="gp",
        referrer="Dr Jones",
        received_on=tomorrow,
        question="Resectable?",
    )
    assert any(words in m for m in got["received_on"])
    assert not models.TnmStaging.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen")
def test_an_invalid_tnm_combination_is_explained(user, case):
    got = _messages(
        records.tnm_staging_create,
        user=user,
        case_id=case.pk,
        kind="pathological",
        t="T0",
        n="N1c",
        m="M0",
        staged_on=D(2026, 2, 1),
    )
    assert got == {"n": ["N1c (tumour deposits without positive nodes) needs a T1–T4 primary."]}
    row = records.tnm_staging_create(
        user=user,
        case_id=case.pk,
        kind="clinical",
        t="T3",
        n="N1c",
        m="M1a",
        staged_on=D(2026, 2, 1),
    )
    assert str(row) == "cT3 cN1c M1a"


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen")
def test_mri_pelvis_is_for_rectal_primaries_and_its_crm_must_match_the_distance(user):
    colon = make_case(primary_site=models.PrimarySite.SIGMOID_COLON)
    fields = {
        "performed_on": D(2026, 1, 20),
        "t": "T3",
        "n": "N1",
        "crm": "clear",
        "crm_distance_mm": Decimal("1.5"),
        "emvi": "positive",
        "tumour_height_cm": Decimal("6.5"),
    }
    got = _messages(records.pelvic_mri_create, user=user, case_id=colon.pk, **fields)
    assert "rectal or rectosigmoid primary" in got["performed_on"][0]
    rectal = make_case()
    got = _messages(records.pelvic_mri_create, user=user, case_id=rectal.pk, **fields)
    assert got == {
        "crm": [
            "At 1.5 mm the margin is threatened (more than 1 up to 2 mm): "
            "correct the status or the distance."
        ]
    }
    mri = records.pelvic_mri_create(user=user, case_id=rectal.pk, **{**fields, "crm": "threatened"})
    assert mri.tumour_height_cm == Decimal("6.5")


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen")
def test_the_tnm_form_shows_a_future_date_as_a_message_not_an_error_page(users, case):
    client = signed_in(users["coordinator"])
    response = client.post(
        f"/cases/{case.pk}/tnm/new/",
        {"kind": "clinical", "t": "T3", "n": "N0", "m": "M1a", "staged_on": "2026-03-11"},
    )
    assert response.status_code == 422
    assert "Staging date cannot be in the future (today is 10 Mar 2026)." in response.text
    assert not models.TnmStaging.objects.exists()
    response = client.post(
        f"/cases/{case.pk}/tnm/new/",
        {"kind": "clinical", "t": "T3", "n": "N0", "m": "M1a", "staged_on": "2026-03-09"},
    )
    assert response.status_code == 302
