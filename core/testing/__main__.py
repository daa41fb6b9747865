"""``python -m jackfield.testing``: run the fake LLM server until SIGINT or SIGTERM."""

from __future__ import annotations

import sys

from ._fake_server import main

if __name__ == "__main__":
    sys.exit(main())
