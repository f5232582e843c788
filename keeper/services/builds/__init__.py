"""Build use cases: register, confirm (staging, verify), delete."""
