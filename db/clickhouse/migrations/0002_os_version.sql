-- The operating system's version ("Windows 10", "iOS 17.1") beside its name, on events and sessions.
ALTER TABLE events ADD COLUMN IF NOT EXISTS os_version LowCardinality(String) DEFAULT '';
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS os_version LowCardinality(String) DEFAULT '';
