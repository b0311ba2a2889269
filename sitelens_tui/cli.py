"""The `sitelens` command: common options, then one module per subcommand in sitelens_tui/commands/."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from collector.config import load_config
from collector.errors import UserError
from db.errors import DatabaseError
from sitelens_tui import __version__, commands

DEFAULT_COMMAND = "run"


class CliError(UserError):
    """A problem the user can fix; printed as one line, exit status 2."""


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts (file → SITELENS_* environment → these flags)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("common options")
    group.add_argument("--config", metavar="FILE", help="TOML config file (default: $SITELENS_CONFIG or the "
                       "platform config dir)")
    group.add_argument("--db", metavar="PATH", help="SQLite database (default: $SITELENS_DB or the platform data dir)")
    group.add_argument(
        "--store",
        metavar="URL",
        help="store URL instead of --db: sqlite://PATH, clickhouse://USER:PASSWORD@HOST:8123/DATABASE, "
        "clickhouses://… (TLS) or chdb://PATH; the path as written (sqlite:///var/x.db is absolute) "
        "(default: $SITELENS_STORE or [db] url)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The full parser: every module in sitelens_tui.commands registers its own subcommand."""
    parser = argparse.ArgumentParser(
        prog="sitelens",
        description="Self-hosted, privacy-first web analytics: collector, live terminal UI and tools. "
        f"Without a command, runs `sitelens {DEFAULT_COMMAND}`.",
    )
    parser.add_argument("--version", action="version", version=f"sitelens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = common_options()
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.add_parser(_SubParsers(sub, parent))
    return parser


class _SubParsers:
    """Wraps the subparsers action so every command gets the common options without repeating them."""

    def __init__(self, action: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
        self._action = action
        self._parent = parent

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser:
        parents = [*kwargs.pop("parents", []), self._parent]  # type: ignore[misc]
        kwargs.setdefault("description", kwargs.get("help"))
        return self._action.add_parser(name, parents=parents, **kwargs)  # type: ignore[arg-type]


COMMON = ("--config", "--db", "--store")


def split_common(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Take --config/--db/--store out of argv wherever they stand (nested subcommands such as `throttle set` too)."""
    rest: list[str] = []
    found: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in COMMON and eq:
            found[name] = value
        elif arg in COMMON and i + 1 < len(argv):
            found[arg] = argv[i + 1]
            i += 1
        elif arg == "--":
            rest.extend(argv[i:])
            break
        else:
            rest.append(arg)
        i += 1
    return rest, found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sitelens` console script."""
    argv, common = split_common(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, DEFAULT_COMMAND)
    args = parser.parse_args(argv)
    args.config = common.get("--config")
    args.db = common.get("--db")
    args.store = common.get("--store")
    try:
        args.config_obj = load_config(args.config, overrides={"db.path": args.db, "db.url": args.store})
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (UserError, DatabaseError) as exc:
        print(f"sitelens: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
