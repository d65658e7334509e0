-- Managed signing of each pushed image by each signing profile whose rule covers its
-- repository: IN_PROGRESS until the signing job has attached the signature, then
-- COMPLETE, or FAILED with a code and reason. Deleting the image deletes its statuses.
CREATE TABLE image_signings (
    registry_id    TEXT NOT NULL,
    region         TEXT NOT NULL,
    repository     TEXT NOT NULL,
    digest         TEXT NOT NULL,
    profile_arn    TEXT NOT NULL,
    status         TEXT NOT NULL,
    failure_code   TEXT,
    failure_reason TEXT,
    updated_at     REAL NOT NULL,
    PRIMARY KEY (registry_id, region, repository, digest, profile_arn),
    FOREIGN KEY (registry_id, region, repository, digest)
        REFERENCES manifests (registry_id, region, repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX image_signings_in_progress ON image_signings (status) WHERE status = 'IN_PROGRESS';
