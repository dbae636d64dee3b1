"""L5 peer, batch scoring: one case into a row (score), chunks of work (chunks), worker processes
(pool), the run's counts and agreement (report), output formats (writers) and the loop (run). Never
imports consult, teach or interop.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
