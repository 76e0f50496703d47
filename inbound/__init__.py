"""Inbound numbers, the inbox and the Kannel MO hook (SPEC §3, §5, §6)."""
