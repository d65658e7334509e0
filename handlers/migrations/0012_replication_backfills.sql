-- Replication backfills (StartReplicationBackfill): a JSON array per registry of each
-- backfill's destination, status, times and the images it replicates.
ALTER TABLE registries ADD COLUMN replication_backfills TEXT NOT NULL DEFAULT '[]';
