-- Principals whose pulls leave lastRecordedPullTime unchanged
-- (RegisterPullTimeUpdateExclusion), per registry.
CREATE TABLE pull_time_exclusions (
    registry_id   TEXT NOT NULL,
    region        TEXT NOT NULL,
    principal_arn TEXT NOT NULL,
    created_at    REAL NOT NULL,
    PRIMARY KEY (registry_id, region, principal_arn)
) WITHOUT ROWID;
