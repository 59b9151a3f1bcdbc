"""Recording scans: a RECIST baseline, its re-measurement, the computed response fed to the
reassessment, a different response only from a radiologist with a reason, and the bloods."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cases import models
from cases.records import services as records
from cases.records.imaging import latest_results, liver_burden, recist_view, viewer_url
from cases.records.selectors import case_clinical_record
from cases.records.services import NewLesion, Remeasure
from tests.conftest import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
D = dt.date
NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
M = Decimal


@pytest.fixture
def radiologist(db):
    return make_user("clinician", username="radiologist", discipline="radiologist")


@pytest.fixture
def oncologist(db):
    return make_user("clinician", username="oncologist", discipline="medical_oncologist")


def scan(user, case, on, **kwargs):
    values = {"modality": "ct", "body_region": "chest_abdomen_pelvis", "performed_on": on}
    values.update(kwargs)
    return records.imaging_study_record(user=user, case_id=case.pk, **values)


BASELINE_DAY = D(2026, 1, 12)


def three_targets(user, case, on=BASELINE_DAY):
    return scan(
        user,
        case,
        on,
        accession_number="ACC100",
        baseline_lesions=[
            NewLesion("T1", "target", "liver", M(40), segment=7),
            NewLesion("T2", "target", "liver", M(30), segment=4),
            NewLesion("T3", "target", "lung", M(30)),
            NewLesion("NT1", "non_target", "peritoneum"),
        ],
    )


def remeasure(study, sizes, non_target="present"):
    lesions = {lesion.label: lesion for lesion in study.baseline_lesions.all()}
    out = [Remeasure(lesions[label].pk, "measured", M(size)) for label, size in sizes.items()]
    return [*out, Remeasure(lesions["NT1"].pk, non_target)]


def reassessment(case):
    return models.Reassessment.objects.create(case=case, cycle=1, due_on=D(2026, 3, 9))


def test_it_feeds_the_computed_partial_response_to_the_reassessment(radiologist, case):
    baseline = three_targets(radiologist, case)
    cycle = reassessment(case)
    scan(
        radiologist,
        case,
        D(2026, 3, 6),
        reassessment_id=cycle.pk,
        measurements=remeasure(baseline, {"T1": 26, "T2": 20, "T3": 20}),
        new_lesions=False,
    )
    cycle.refresh_from_db()
    assert cycle.response == "partial_response"
    assert cycle.imaging_performed_on == D(2026, 3, 6)
    assert cycle.modality == "ct"
    view = recist_view(case_clinical_record(case_id=case.pk))
    latest = view.latest
    assert (latest.shown_code, latest.change_text) == ("PR", "\u221234 % from baseline")
    assert view.baseline_sum_mm == 100


def test_a_new_lesion_makes_it_progression_whatever_the_targets_do(radiologist, case):
    baseline = three_targets(radiologist, case)
    cycle = reassessment(case)
    scan(
        radiologist,
        case,
        D(2026, 3, 6),
        reassessment_id=cycle.pk,
        measurements=remeasure(baseline, {"T1": 20, "T2": 10, "T3": 10}),
        new_lesions=True,
        new_lesion_sites="Segment II",
    )
    cycle.refresh_from_db()
    assert cycle.response == "progressive_disease"


def test_a_missing_target_lesion_is_not_evaluable_and_feeds_no_response(radiologist, case):
    baseline = three_targets(radiologist, case)
    cycle = reassessment(case)
    scan(
        radiologist,
        case,
        D(2026, 3, 6),
        reassessment_id=cycle.pk,
        measurements=remeasure(baseline, {"T1": 26, "T2": 20}),
        new_lesions=False,
    )
    cycle.refresh_from_db()
    assert cycle.response == ""
    assert recist_view(case_clinical_record(case_id=case.pk)).latest.shown_code == "NE"


def test_only_a_radiologist_gives_a_different_response_and_only_with_a_reason(
    radiologist, oncologist, case
):
    baseline = three_targets(radiologist, case)
    cycle = reassessment(case)
    follow = {
        "reassessment_id": cycle.pk,
        "measurements": remeasure(baseline, {"T1": 26, "T2": 20, "T3": 20}),
        "new_lesions": False,
    }
    with pytest.raises(ValidationError) as error:
        scan(radiologist, case, D(2026, 3, 6), response_override="stable_disease", **follow)
    assert "response_override_reason" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        scan(
            oncologist,
            case,
            D(2026, 3, 6),
            response_override="stable_disease",
            response_override_reason="Necrosis",
            **follow,
        )
    assert "Only a radiologist" in error.value.message_dict["response_override"][0]
    with pytest.raises(ValidationError):  # the computed response itself is no override
        scan(
            radiologist,
            case,
            D(2026, 3, 6),
            response_override="partial_response",
            response_override_reason="Agree",
            **follow,
        )
    assert models.ImagingStudy.objects.filter(case=case).count() == 1  # nothing kept
    scan(
        radiologist,
        case,
        D(2026, 3, 6),
        response_override="stable_disease",
        response_override_reason="Shrinkage is oedema settling; viable tumour unchanged",
        **follow,
    )
    cycle.refresh_from_db()
    assert cycle.response == "stable_disease"


def test_the_reassessment_form_cannot_type_over_the_scans_response(radiologist, case, users):
    baseline = three_targets(radiologist, case)
    cycle = reassessment(case)
    scan(
        radiologist,
        case,
        D(2026, 3, 6),
        reassessment_id=cycle.pk,
        measurements=remeasure(baseline, {"T1": 26, "T2": 20, "T3": 20}),
        new_lesions=False,
    )
    cycle.refresh_from_db()
    values = {
        "due_on": cycle.due_on,
        "imaging_performed_on": cycle.imaging_performed_on,
        "modality": "ct",
    }
    with pytest.raises(ValidationError) as error:
        records.reassessment_update(
            user=users["coordinator"],
            reassessment_id=cycle.pk,
            expected_version=cycle.version,
            response="stable_disease",
            **values,
        )
    assert "Partial response" in error.value.message_dict["response"][0]
    records.reassessment_update(
        user=users["coordinator"],
        reassessment_id=cycle.pk,
        expected_version=cycle.version,
        response="partial_response",
        **values,
    )


def test_a_coordinator_may_not_record_imaging(users, case):
    with pytest.raises(PermissionDenied):
        three_targets(users["coordinator"], case)
    assert not models.ImagingStudy.objects.exists()


def test_a_scan_in_the_future_is_refused_with_a_message(radiologist, case):
    with pytest.raises(ValidationError) as error:
        three_targets(radiologist, case, on=D(2026, 3, 11))
    assert "cannot be in the future" in error.value.message_dict["performed_on"][0]


def test_recists_baseline_rules_are_messages_on_the_lesion(radiologist, case):
    with pytest.raises(ValidationError) as error:
        scan(
            radiologist,
            case,
            D(2026, 1, 12),
            baseline_lesions=[
                NewLesion("T1", "target", "liver", M(40)),
                NewLesion("T2", "target", "liver", M(30)),
                NewLesion("T3", "target", "liver", M(20)),
                NewLesion("N1", "target", "lymph_node", M(12)),
                NewLesion("T4", "target", "lung", M(0)),
            ],
        )
    errors = error.value.message_dict
    assert "at most 2 per organ" in errors["lesion_2"][0]
    assert "≥ 15 mm in short axis" in errors["lesion_3"][0]
    assert "more than 0 mm" in errors["lesion_4"][0]


def test_a_follow_up_needs_a_baseline_and_a_word_on_new_lesions(radiologist, case):
    with pytest.raises(ValidationError) as error:
        scan(radiologist, case, D(2026, 3, 6), measurements=[Remeasure(1, "measured", M(10))])
    assert "record the baseline first" in error.value.message_dict["lesions"][0]
    baseline = three_targets(radiologist, case)
    with pytest.raises(ValidationError) as error:
        scan(
            radiologist,
            case,
            D(2026, 3, 6),
            measurements=remeasure(baseline, {"T1": 26, "T2": 20, "T3": 20}),
        )
    assert "new_lesions" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        scan(
            radiologist,
            case,
            D(2026, 1, 12),
            measurements=remeasure(baseline, {"T1": 26, "T2": 20, "T3": 20}),
            new_lesions=False,
        )
    assert "after its baseline" in error.value.message_dict["performed_on"][0]


def test_liver_burden_comes_from_the_same_lesions(radiologist, case):
    baseline = three_targets(radiologist, case)
    lesions = {lesion.label: lesion for lesion in baseline.baseline_lesions.all()}
    scan(
        radiologist,
        case,
        D(2026, 3, 6),
        measurements=[
            Remeasure(lesions["T1"].pk, "measured", M(26)),
            Remeasure(lesions["T2"].pk, "absent"),
            Remeasure(lesions["T3"].pk, "measured", M(20)),
            Remeasure(lesions["NT1"].pk, "present"),
        ],
        new_lesions=False,
    )
    burden = liver_burden(case_clinical_record(case_id=case.pk))
    assert (burden.count, burden.largest_mm, burden.segments_text) == (1, M(26), "VII")


def test_the_viewer_link_is_built_from_the_setting(settings):
    settings.PACS_VIEWER_URL = "https://pacs.example/viewer?accession={accession}"
    assert viewer_url("ACC100") == "https://pacs.example/viewer?accession=ACC100"
    assert viewer_url("") == ""
    settings.PACS_VIEWER_URL = ""
    assert viewer_url("ACC100") == ""


def test_bloods_are_one_row_of_values_for_one_date_flagged_out_of_range(users, case):
    rows = records.lab_results_record(
        user=users["coordinator"],
        case_id=case.pk,
        taken_on=D(2026, 3, 2),
        values={"cea": M("48.5"), "bilirubin": M(12), "albumin": M(31), "platelets": None},
    )
    assert len(rows) == 3
    flags = {row.code: row.flag for row in latest_results(case_clinical_record(case_id=case.pk))}
    assert flags == {"cea": "high", "bilirubin": "", "albumin": "low"}
    with pytest.raises(ValidationError) as error:
        records.lab_results_record(
            user=users["coordinator"],
            case_id=case.pk,
            taken_on=D(2026, 3, 2),
            values={"cea": M(50), "platelets": M(200)},
        )
    assert "already recorded" in error.value.message_dict["cea"][0]
    assert models.LabResult.objects.filter(case=case).count() == 3  # platelets not saved
    with pytest.raises(ValidationError) as error:
        records.lab_results_record(
            user=users["coordinator"],
            case_id=case.pk,
            taken_on=D(2026, 3, 11),
            values={"cea": M(50)},
        )
    assert "cannot be in the future" in error.value.message_dict["taken_on"][0]
    with pytest.raises(PermissionDenied):
        records.lab_results_record(
            user=users["auditor"], case_id=case.pk, taken_on=D(2026, 3, 3), values={"cea": M(5)}
        )
