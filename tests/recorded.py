"""Where the recorded real responses live: ``shared/wire`` beside the checkout, or the
directory ``$JACKFIELD_WIRE_DIR`` names. Tests that replay them skip, saying so, when
it is absent (as on a user's clone)."""

from __future__ import annotations

import os
from pathlib import Path

WIRE = Path(
    os.environ.get("JACKFIELD_WIRE_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "wire"
)
