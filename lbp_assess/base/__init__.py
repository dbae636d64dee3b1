"""L0, the base: errors with locations and exit codes (errors), untrusted text made safe to show
(text), atomic no-clobber files (files), safe YAML 1.2 / JSON reading with limits (yamlio), and
where the shipped rules and vignettes are (resources). Imports nothing from lbp_assess.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
