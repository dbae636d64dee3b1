"""The rule set, cut in passes: the rule-file schema (schema), the loaded model and its result (model),
loading and checking (load), evaluation order (order), and compilation to Python (compile).

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
