"""See process.py."""
