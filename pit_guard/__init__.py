"""pit-guard: find leaked GoHighLevel credentials in files and git history."""

__version__ = "0.1.0"
