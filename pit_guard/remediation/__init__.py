"""What to do after a leak: rewrite history (purge)."""
