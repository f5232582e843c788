"""Edition names with a meaning of their own."""

from __future__ import annotations

#: The default edition, served at the product's root.
MAIN_EDITION = "__main"
