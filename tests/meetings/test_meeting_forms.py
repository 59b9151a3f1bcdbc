"""FlatSelect draws what Django's own Select draws, only faster."""

from __future__ import annotations

import re

import pytest
from django import forms

from cases.meetings.forms import FactForm, FlatSelect

CHOICES = [("", "- Select an option -"), ("1", "Morgan Chair"), ("2", "<Dr> O'Brien & Co")]


def canonical(html: str) -> str:
    """Whitespace between tags dropped and each tag's attributes sorted: the same HTML."""
    html = re.sub(r">\s+<", "><", html.strip())
    return re.sub(r"<(\w+)([^>]*)>", lambda m: f"<{m[1]} {' '.join(sorted(m[2].split()))}>", html)


@pytest.mark.parametrize("value", [None, "", "1", "2", "nobody", ["2"]])
@pytest.mark.parametrize("attrs", [None, {"id": "id_member", "required": True}])
def test_it_draws_the_same_select_as_django(value, attrs):
    ours, django = (
        FlatSelect(attrs={"data-autofocus": ""}),
        forms.Select(attrs={"data-autofocus": ""}),
    )
    ours.choices = django.choices = CHOICES
    drawn = ours.render("member", value, attrs)
    assert canonical(drawn) == canonical(django.render("member", value, attrs))
    assert "&lt;Dr&gt; O&#x27;Brien &amp; Co" in drawn


def test_it_refuses_grouped_choices():
    widget = FlatSelect()
    widget.choices = [("Surgeons", [("1", "A"), ("2", "B")])]
    with pytest.raises(TypeError):
        widget.render("member", None)


def test_the_result_form_draws_its_lists_as_django_would():
    """The meeting's result form uses FlatSelect: the same HTML, errors and choice included."""
    form = FactForm({"marker": "kras", "status": "nonsense"})
    assert not form.is_valid()
    for name in ("marker", "status"):
        django = forms.Select(choices=form.fields[name].choices)
        assert canonical(str(form[name])) == canonical(form[name].as_widget(widget=django))
    assert '<option value="kras" selected>' in str(form["marker"])
