"""``python -m benchmarks``: run the harness (``--quick`` for CI, ``--help`` for options)."""

from .run import main

raise SystemExit(main())
