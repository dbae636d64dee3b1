"""L5 peer, interoperability: the questionnaire as an HL7 FHIR R4 Questionnaire and cases as document
Bundles (fhir). Never imports consult, teach or batch.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
