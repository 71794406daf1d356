"""One module per benchmark section; each has ``run(config) -> dict`` (its JSON result)."""
