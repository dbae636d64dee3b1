"""L5 peer, the consultation: the interview state machine and drafts (interview), starting and
finishing a consultation (session), follow-up visits started from the last one (followup). Never
imports teach, interop or batch.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
