"""SiteLens on ClickHouse: a server or cluster through clickhouse-connect, or the same engine in-process (chDB)."""
