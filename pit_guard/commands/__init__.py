"""One module per command; cli.py lists them."""
