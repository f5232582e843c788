"""Build use cases: register, confirm, delete."""
