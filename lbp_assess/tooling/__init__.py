"""L6, tooling for rule authors and maintainers: mutation testing of rule tests (mutate) and the
generated documentation (docs). May import every layer but cli.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
