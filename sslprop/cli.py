"""`python -m sslprop SUBCOMMAND ...`: one entry point for every step of the pipeline.

Each subcommand lives in the module that does the work; that module provides
``add_arguments(parser)`` and ``main(args) -> int``. Only the chosen subcommand's module
is imported, so `--help` stays fast. Errors from bad input (`SSLPropError`) print as one
line and exit with status 2.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from pathlib import Path

from sslprop.errors import SSLPropError

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("sslprop.data.synth.generator", "generate the embedded benchmark (solo, mosaic, scenes, sequences, and the listening set)"),
    "import": ("sslprop.data.importers", "read a real data set (flickr, vggss, music, ave, folder) into the sslprop format"),
    "proposals": ("sslprop.engine.proposals", "run Selective Search on every frame of a data set into a resumable cache, or print its bag statistics"),
    "eval": ("sslprop.evaluation.evaluate", "score predictions or a floor under a named evaluation protocol"),
    "train": ("sslprop.engine.train", "train a method (ours or a baseline) on a data set"),
    "predict": ("sslprop.engine.predict", "run a trained model on a data set and write predictions"),
    "localize": ("sslprop.engine.localize", "localise the sounding object in your own videos: boxes over time, an annotated video, a timeline"),
    "listen": ("sslprop.evaluation.listening", "the listening test: change the sound, keep the frame; how often each answer follows the sound"),
    "probe": ("sslprop.evaluation.probe", "does a trained model's box feature prefer its own sound: the object's box vs. the background's"),
    "pretrain": ("sslprop.engine.pretrain", "pretrain the cpu profile's small encoders with labels on a corpus apart from the benchmark"),
    "bench": ("sslprop.bench", "print throughput figures (data pipeline, training, inference)"),
}


# What running the same command again does after an interruption or a full disk; a subcommand's module states its own
# as RESUME when it differs (predict starts over, train continues with --resume).
RESUME = "what was finished is kept; run the same command again to resume"
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; only `chosen`'s module is imported to add its arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m sslprop",
        description="Proposal-based self-supervised sound source localisation (Xuan et al., CVPR 2022).",
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv`, run the subcommand, and turn bad input, a full disk and Ctrl-C into one line."""
    module, args = None, None
    try:  # Ctrl-C while the subcommand's module (torch) is imported is one line too
        argv = list(sys.argv[1:] if argv is None else argv)
        chosen = next((a for a in argv if not a.startswith("-")), None)
        chosen = chosen if chosen in COMMANDS else None
        parser = build_parser(chosen)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        module = importlib.import_module(COMMANDS[args.command][0])
        return int(module.main(args) or 0)
    except SSLPropError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if module is None:
            print("interrupted while starting: nothing was done", file=sys.stderr)
        else:
            print(f"interrupted: {getattr(module, 'RESUME', RESUME)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (`... | head`): stop quietly, as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit flush does not fail again
        return 141
    except OSError as e:
        if e.errno in NO_SPACE:  # often raised without a file name (inside a write): name the folder being written
            print(f"error: {full_folder(e, args)}: no space left on device (free some space; "
                  f"{getattr(module, 'RESUME', RESUME)})", file=sys.stderr)
            return 2
        if e.filename is None:
            raise
        # a path the user gave that cannot be written or read (read-only, a file for a folder, ...)
        print(f"error: {e.filename}: {e.strerror or type(e).__name__}", file=sys.stderr)
        return 2


def full_folder(e: OSError, args: argparse.Namespace | None) -> str:
    """The folder a failed write went to: the file's folder when the error names it, else the subcommand's output."""
    if e.filename is not None:
        return str(Path(os.fsdecode(e.filename)).parent)
    for name in ("out", "dir", "output"):
        value = getattr(args, name, None)
        if value is not None:
            return str(value)
    return "the output folder"


if __name__ == "__main__":
    raise SystemExit(main())
