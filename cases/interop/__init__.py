"""Interoperability: HL7 FHIR R4 with the mCODE STU4 profiles (docs/interop.md)."""
