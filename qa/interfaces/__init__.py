"""Ways in: the command line (cli) and the web page (web)."""
