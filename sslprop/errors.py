"""The one exception type the project raises for bad input; the CLI prints it as one line."""


class SSLPropError(Exception):
    """Bad input, reported to the user as a single line naming the file and the problem.

    Raise it with a message of the form ``"<path>: <what is wrong>"`` wherever input from
    outside (a media file, a manifest row, an annotation file, a command-line value) does
    not fit. `sslprop.cli.main` prints ``error: <message>`` and exits with status 2.
    """
