"""L4, outputs: data and strings from an assessment, no rich - the note (note), the rule trace and what
would change it (explain), rules in plain English (plainwords), visits compared and in series
(visits). Imports base, model, engine and inputs.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
