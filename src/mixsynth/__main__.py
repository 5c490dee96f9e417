"""``python -m mixsynth``: the command line."""

from mixsynth.cli import main

raise SystemExit(main())
