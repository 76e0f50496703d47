"""The Verify API: one-time codes sent by SMS and checked (SPEC §5)."""
