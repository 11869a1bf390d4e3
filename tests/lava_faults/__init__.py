"""A Lava process whose model fails on purpose (tests of the runtime watchdog only)."""
