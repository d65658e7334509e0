-- Replication of each pushed image to each destination registry its registry's
-- replication rules name: IN_PROGRESS until the replication job has copied it (a new link
-- per blob, no bytes), then COMPLETE, or FAILED with a failure code.
CREATE TABLE replications (
    registry_id      TEXT NOT NULL,
    region           TEXT NOT NULL,
    repository       TEXT NOT NULL,
    digest           TEXT NOT NULL,
    dest_registry_id TEXT NOT NULL,
    dest_region      TEXT NOT NULL,
    status           TEXT NOT NULL,
    failure_code     TEXT,
    updated_at       REAL NOT NULL,
    PRIMARY KEY (registry_id, region, repository, digest, dest_registry_id, dest_region)
) WITHOUT ROWID;

CREATE INDEX replications_in_progress ON replications (status) WHERE status = 'IN_PROGRESS';
