-- The OS with its version as people name it ("Windows 10", "iOS 17.1"), beside the OS: SQLite's migration 0006.
-- '' for rows stored before it (and when the User-Agent gives no version). Writers insert by column name, so
-- where the column sits (last in events, before the version in sessions) changes nothing for them.
ALTER TABLE events ADD COLUMN IF NOT EXISTS os_version LowCardinality(String) DEFAULT '';
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS os_version LowCardinality(String) DEFAULT '' AFTER ip;
