"""``causal-emergence``: the command group, global options and error mapping.

Exit codes: 0 success; 2 bad usage or bad input (one-line message, no traceback);
1 internal error (one line; ``--debug`` shows the traceback).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from .. import __version__
from ..errors import CausalEmergenceError, InputError, OutputError

log = logging.getLogger("ndx_causal_emergence")


class Context:
    """Global options shared by the commands."""

    def __init__(self, verbose: int, quiet: bool, debug: bool) -> None:
        self.verbose = verbose
        self.quiet = quiet
        self.debug = debug

    def echo(self, message: str = "", **kwargs: Any) -> None:
        """Print unless ``--quiet``."""
        if not self.quiet:
            click.echo(message, **kwargs)

    @property
    def progress(self) -> bool:
        """Show the job's phases on stderr (not with ``--quiet``)."""
        return not self.quiet


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Map library errors to one-line messages and exit codes (2 input, 1 internal)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context().find_object(Context)
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except (InputError, OutputError) as err:
            if ctx is not None and ctx.debug:
                raise
            click.echo(f"Error: {err}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except MemoryError:  # an input or parameters too large for this machine: bad input, not a bug
            if ctx is not None and ctx.debug:
                raise
            click.echo(
                "Error: out of memory: the input or the parameters need more memory than this machine has; "
                "read less (--series, --bin-width) or lower --max-memory so that the check refuses it first",
                err=True,
            )
            sys.exit(2)
        except Exception as err:  # internal error: one line unless --debug
            if ctx is not None and ctx.debug:
                raise
            kind = "" if isinstance(err, CausalEmergenceError) else f"{type(err).__name__}: "
            click.echo(f"Internal error: {kind}{err} (rerun with --debug for the traceback)", err=True)
            sys.exit(1)

    return wrapper


def _set_max_memory(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from ..safety.memory import MEMORY_ENV, parse_size

    try:
        parse_size(value)
    except InputError as err:
        raise click.BadParameter(str(err)) from None
    os.environ[MEMORY_ENV] = value  # read by the checks here and inherited by Dask workers started later
    return value


max_memory_option = click.option(
    "--max-memory",
    metavar="SIZE",
    callback=_set_max_memory,
    expose_value=False,
    help="Memory budget, e.g. 8G: inputs and models that would need more are refused before anything is allocated "
    "(default: the memory available).",
)


threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    metavar="N",
    help="torch/BLAS threads (default: the cores this process may use that other work leaves free; "
    "1 per task in batch mode).",
)

max_time_option = click.option(
    "--max-time",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Training time budget for all fits; fits stop early, keeping their best state, when it runs out.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="causal-emergence")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug logs).")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and the requested output.")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, debug: bool) -> None:
    """Multiscale causal emergence of neural data in NWB files, local or on DANDI.

    \b
    Typical use:
      causal-emergence list  FILE_OR_ASSET        what can be analysed
      causal-emergence run   FILE_OR_ASSET --out results.nwb
      causal-emergence report results.nwb [--json] [--plots DIR]
      causal-emergence apply results.nwb OTHER --analysis NAME --out other_applied.nwb
      causal-emergence demo                      the whole job on bundled real data

    Sources are local NWB files, http(s) URLs, or DANDI references such as
    DANDI:000123/0.240101.0000/sub-x/sub-x_ses-y.nwb (streamed, not downloaded).
    """
    level = logging.WARNING - 10 * verbose if not quiet else logging.ERROR
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(verbose, quiet, debug)


def _register() -> None:
    from .cmd_apply import apply
    from .cmd_demo import demo
    from .cmd_list import list_
    from .cmd_report import report
    from .cmd_run import run

    for command in (run, report, list_, apply, demo):
        cli.add_command(command)


_register()


def main() -> None:
    """Entry point of the ``causal-emergence`` script."""
    cli(prog_name="causal-emergence")
