"""The ``searchsvc`` command line. Data on stdout (``--json`` for machines), progress and logs on stderr.

Exit codes: 0 ok, 1 runtime failure, 2 invalid input (spec, data, flags, unknown sweep).
Heavy packages (ray, mlflow, torch) are imported inside the commands, so ``--help`` is instant.
The commands: running sweeps (:mod:`searchsvc.cli.running`), reading their records
(:mod:`searchsvc.cli.records`) and analysing them (:mod:`searchsvc.cli.analysis`).
"""

from __future__ import annotations

import os
import sys

import click

from searchsvc.errors import exit_code

ledger_option = click.option("--ledger", metavar="URL", envvar="SEARCHSVC_LEDGER",
                             help="Ledger database (default: sqlite under $SEARCHSVC_HOME, ~/.searchsvc).")
tracking_option = click.option("--tracking-uri", metavar="URI", envvar="MLFLOW_TRACKING_URI",
                               help="MLflow tracking store (default: sqlite under $SEARCHSVC_HOME).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="searchsvc")
def cli() -> None:
    """Random-search experiments for LSTM hyperparameters, on Ray Tune, recorded in a ledger and MLflow.

    \b
    searchsvc validate experiments/quickstart.yaml --show 5
    searchsvc submit experiments/quickstart.yaml
    searchsvc ui
    """


def main() -> None:
    """Entry point: map searchsvc's errors to one line on stderr and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:
        if (code := exit_code(e)) is not None:
            click.echo(f"error: {e}", err=True)
            sys.exit(code)
        # a bug or an unreachable service: one line, the traceback on request
        if os.environ.get("SEARCHSVC_DEBUG"):
            raise
        click.echo(f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                   "(set SEARCHSVC_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)


def entry() -> None:
    """The process's entry point (``searchsvc``, ``python -m searchsvc``): :func:`main`, then an exit that
    does not wait on the interpreter's teardown. A process that ran a sweep holds torch, Ray and MLflow,
    whose teardown takes seconds after the work is done; what must happen at exit does, as at a normal
    exit: the threads that are not daemons are joined, the embedded Ray is stopped, the ``atexit`` handlers
    run and the output is flushed. Only the freeing of every object is skipped, so an open file must be
    closed, as searchsvc's are, by the code that opened it."""
    import atexit
    import threading

    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code
    threading._shutdown()  # as the interpreter's exit begins: thread pools told to end, other threads joined
    if "ray" in sys.modules:
        from searchsvc.run.cluster import stop

        stop()
    if not isinstance(code, int):  # sys.exit("message"), as the interpreter prints it
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
