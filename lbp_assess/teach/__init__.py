"""L5 peer, teaching: practice on vignettes (practice) and the tutor's report (practice_report). Never
imports consult, interop or batch.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
