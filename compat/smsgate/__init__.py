"""SMSGate-compatible surface at /3rdparty/v1/ (shared/COMPAT.md §A)."""
