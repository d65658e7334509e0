-- The latest scan of each image: IN_PROGRESS until the scan job has read the image,
-- then COMPLETE (with its findings) or FAILED (with ECR's description). `started_at`
-- enforces ECR's one scan per image per 24 hours. Deleting the image deletes its scan.
CREATE TABLE image_scans (
    registry_id       TEXT NOT NULL,
    region            TEXT NOT NULL,
    repository        TEXT NOT NULL,
    digest            TEXT NOT NULL,
    status            TEXT NOT NULL,
    description       TEXT NOT NULL,
    started_at        REAL NOT NULL,
    completed_at      REAL,
    source_updated_at REAL,
    -- JSON array of findings in ECR's ImageScanFinding shape.
    findings          TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (registry_id, region, repository, digest),
    FOREIGN KEY (registry_id, region, repository, digest)
        REFERENCES manifests (registry_id, region, repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX image_scans_in_progress ON image_scans (status) WHERE status = 'IN_PROGRESS';
