"""One module per `sitelens` subcommand; each exposes add_parser(sub) and run(args) -> int."""
