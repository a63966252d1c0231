"""``python -m api.cli`` runs the ``gridmap`` command line."""

from api.cli.main import main

main()
