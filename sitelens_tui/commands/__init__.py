"""One module per `sitelens` subcommand; each exposes add_parser(sub) and run(args) -> int.

Shared here: record ids on the command line, one style for every command (`ID` positionally, `--id ID` too)."""

from __future__ import annotations

import argparse

from collector.errors import UserError


def add_id_argument(parser: argparse.ArgumentParser, help_text: str, *, required: bool = True) -> None:
    """An id given positionally (the documented form, as `token revoke ID`) or as `--id N` (accepted too,
    hidden from the help); `chosen_id` reads it back."""
    parser.add_argument("id", type=int, nargs="?", metavar="ID", help=help_text + ("" if required else " (optional)"))
    parser.add_argument("--id", dest="id_flag", type=int, metavar="ID", help=argparse.SUPPRESS)
    parser.set_defaults(id_required=required, id_help=help_text)


def chosen_id(args: argparse.Namespace) -> int | None:
    """The id of `add_id_argument`, whichever form gave it; a one-line error when missing or given twice."""
    given = [v for v in (args.id, args.id_flag) if v is not None]
    if len(given) == 2 and given[0] != given[1]:
        raise UserError(f"two different ids given ({given[0]} and {given[1]}): give one")
    if not given and args.id_required:
        raise UserError(f"give the {args.id_help}")
    return given[0] if given else None
