"""Demo data at scale: ``flask demo seed`` (services.py generates, cli.py commits)."""
