"""tests/browser/ holds `make browser-check` (a real JupyterLab in headless Chromium), not unit tests: pytest collects nothing here."""

collect_ignore_glob = ["*.py"]
