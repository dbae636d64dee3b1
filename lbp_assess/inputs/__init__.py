"""L3, inputs: every way a case comes in - case files and case-file discovery (cases), and FHIR
QuestionnaireResponses read as cases (fhir_response, with the shared FHIR codes in fhir_codes).
Imports base, model and engine.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
