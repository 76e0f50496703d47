"""SMSAPI-compatible surface at /smsapi/ (shared/COMPAT.md §B)."""
