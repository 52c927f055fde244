"""`python -m sslprop ...`: see sslprop.cli."""

from sslprop.cli import main

raise SystemExit(main())
