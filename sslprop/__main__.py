"""`python -m sslprop ...`: see sslprop.cli."""

try:
    from sslprop.cli import main

    code = main()
except KeyboardInterrupt:  # Ctrl-C in the first instants, before `main` handles it: one line, as later on
    import sys

    print("interrupted while starting: nothing was done", file=sys.stderr)
    code = 130

raise SystemExit(code)
