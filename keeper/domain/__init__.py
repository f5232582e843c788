"""Pure rules shared by every layer of keeper (no I/O, no framework)."""
