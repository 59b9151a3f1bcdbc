"""What a set of agents is: its cytotoxic backbone and the recommended-regimen family (A.2) it
belongs to. The meeting uses it to tell whether the MDT's agents follow the recommendation, and
the record to check that a course naming a backbone contains its drugs.
"""

from __future__ import annotations

from collections.abc import Iterable

from .vocabulary import ANTI_EGFR_AGENTS, CHECKPOINT_INHIBITORS, Agent, Backbone, RegimenFamily

FLUOROPYRIMIDINES = frozenset({Agent.FLUOROURACIL, Agent.CAPECITABINE})
CYTOTOXIC_PARTNERS = frozenset({Agent.OXALIPLATIN, Agent.IRINOTECAN})

# The drugs each backbone is made of.
BACKBONE_AGENTS: dict[Backbone, frozenset[Agent]] = {
    Backbone.FOLFOX: frozenset({Agent.FLUOROURACIL, Agent.OXALIPLATIN}),
    Backbone.CAPOX: frozenset({Agent.CAPECITABINE, Agent.OXALIPLATIN}),
    Backbone.FOLFIRI: frozenset({Agent.FLUOROURACIL, Agent.IRINOTECAN}),
    Backbone.FOLFOXIRI: frozenset({Agent.FLUOROURACIL, Agent.OXALIPLATIN, Agent.IRINOTECAN}),
}


def backbone_of(agents: Iterable[str]) -> Backbone | None:
    """The backbone the cytotoxic agents make exactly, or None (none, or an unusual mix)."""
    cytotoxic = frozenset(agents) & (FLUOROPYRIMIDINES | CYTOTOXIC_PARTNERS)
    return next((b for b, drugs in BACKBONE_AGENTS.items() if drugs == cytotoxic), None)


def regimen_family_of(agents: Iterable[str]) -> RegimenFamily | None:
    """The recommended-regimen family a set of agents belongs to (None: none of them).

    Checkpoint inhibitors alone count as the pembrolizumab family: nivolumab with ipilimumab is an
    accepted alternative in dMMR disease (seed statement 3). Anti-EGFR doublets are FOLFOX or
    FOLFIRI only (capecitabine is not a partner for anti-EGFR, seed statement 2).
    """
    given = frozenset(agents)
    if not given:
        return None
    if given <= CHECKPOINT_INHIBITORS:
        return RegimenFamily.PEMBROLIZUMAB
    backbone = backbone_of(given)
    biologics = given - FLUOROPYRIMIDINES - CYTOTOXIC_PARTNERS
    if backbone is Backbone.FOLFOXIRI:
        return RegimenFamily.FOLFOXIRI_BEVACIZUMAB if biologics == {Agent.BEVACIZUMAB} else None
    if backbone is None:
        return None
    if not biologics:
        return RegimenFamily.DOUBLET_CHEMOTHERAPY_PENDING_BIOMARKERS
    if biologics == {Agent.BEVACIZUMAB}:
        return RegimenFamily.DOUBLET_BEVACIZUMAB
    if len(biologics) == 1 and biologics <= ANTI_EGFR_AGENTS and backbone is not Backbone.CAPOX:
        return RegimenFamily.DOUBLET_ANTI_EGFR
    return None
