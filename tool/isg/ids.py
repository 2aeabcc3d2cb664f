"""New record IDs that cannot collide between pull requests open at the same time.

`PREFIX-YEAR-XXXXX`: the kind's prefix, the year of creation and five random characters of
Crockford's base32 (no I, L, O, U): 33.5 million per prefix and year, so two concurrent pull
requests essentially never draw the same one, nobody has to renumber during review, and a
duplicate that does happen fails validation. See docs/IDS.md.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_CHARS = 5


def new_id(prefix: str, *, now: datetime, rng: random.Random | None = None) -> str:
    """A fresh ID for a record of the kind with `prefix`, created at `now`."""
    choice = rng.choice if rng is not None else secrets.choice
    suffix = "".join(choice(CROCKFORD) for _ in range(RANDOM_CHARS))
    return f"{prefix}-{now.year:04d}-{suffix}"
