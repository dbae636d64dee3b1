"""L2, the engine: rule sets - loading, checking, ordering, compiling, the Assessment (ruleset/) -, the
questionnaire (questionnaire), the one conversion from answers to facts (answers), clinical wording
of values and answers (words), and rule tests (ruletests). Imports base and model.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
