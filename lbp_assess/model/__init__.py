"""L1, the model: the case format lbp-case/1 as pydantic models, its fact vocabulary and fast msgspec
schema (case), and the expression language of the rules (expr). Imports only base.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
