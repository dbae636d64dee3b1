"""`python -m lbp_assess.docs [--check] [ROOT]`: regenerate the generated documentation (see tooling.docs)."""

import sys

if __name__ == "__main__":
    from .tooling.docs import main

    sys.exit(main())
