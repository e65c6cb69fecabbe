"""``causal-emergence list``: the analysable series and condition tables of a source."""

from __future__ import annotations

import click

from .main import Context, handle_errors


@click.command("list")
@click.argument("source")
@click.pass_obj
@handle_errors
def list_(obj: Context, source: str) -> None:
    """List the series of SOURCE that can be analysed (use one with --series) and its condition tables."""
    from ..nwb.read import list_condition_tables, list_series, open_nwb

    with open_nwb(source) as opened:
        series = list_series(opened.nwbfile)
        tables = list_condition_tables(opened.nwbfile)
    click.echo("Series:")
    click.echo(series.to_string(index=False) if len(series) else "  (none)")
    click.echo("\nCondition tables:")
    click.echo(tables.to_string(index=False) if len(tables) else "  (none)")
