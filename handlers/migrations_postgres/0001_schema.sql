-- berth's metadata on PostgreSQL: the schema the SQLite migrations (../migrations) reach,
-- in one step, since a PostgreSQL database starts at this version. Later changes are new
-- files here and in ../migrations alike.
--
-- Types follow what the code binds and reads on both databases: TEXT, BIGINT for integers
-- and 0/1 flags, DOUBLE PRECISION for epoch seconds, BYTEA for manifest bodies. Every text
-- key sorts bytewise (COLLATE "C"), as SQLite's do, so that pages come in the same order
-- whatever the database's locale.

CREATE TABLE repositories (
    registry_id          TEXT COLLATE "C" NOT NULL,
    region               TEXT COLLATE "C" NOT NULL,
    name                 TEXT COLLATE "C" NOT NULL,
    created_at           DOUBLE PRECISION NOT NULL,
    image_tag_mutability TEXT NOT NULL,
    mutability_exclusion_filters TEXT NOT NULL DEFAULT '[]',
    scan_on_push         BIGINT NOT NULL DEFAULT 0,
    encryption_type      TEXT NOT NULL DEFAULT 'AES256',
    kms_key              TEXT,
    policy_text          TEXT,
    lifecycle_policy     TEXT,
    lifecycle_evaluated_at DOUBLE PRECISION,
    lifecycle_preview    TEXT,
    PRIMARY KEY (registry_id, region, name)
);

CREATE TABLE repository_tags (
    registry_id TEXT COLLATE "C" NOT NULL,
    region      TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    tag_key     TEXT COLLATE "C" NOT NULL,
    tag_value   TEXT NOT NULL,
    PRIMARY KEY (registry_id, region, name, tag_key),
    FOREIGN KEY (registry_id, region, name)
        REFERENCES repositories (registry_id, region, name) ON DELETE CASCADE
);

CREATE TABLE blobs (
    digest             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    size               BIGINT NOT NULL,
    linked_at          DOUBLE PRECISION,
    unreferenced_since DOUBLE PRECISION
);

CREATE TABLE repository_blobs (
    registry_id TEXT COLLATE "C" NOT NULL,
    region      TEXT COLLATE "C" NOT NULL,
    repository  TEXT COLLATE "C" NOT NULL,
    digest      TEXT COLLATE "C" NOT NULL REFERENCES blobs (digest),
    PRIMARY KEY (registry_id, region, repository, digest),
    FOREIGN KEY (registry_id, region, repository)
        REFERENCES repositories (registry_id, region, name) ON DELETE CASCADE
);

CREATE TABLE uploads (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    registry_id TEXT COLLATE "C" NOT NULL,
    region      TEXT COLLATE "C" NOT NULL,
    repository  TEXT COLLATE "C" NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    kind        TEXT NOT NULL,
    FOREIGN KEY (registry_id, region, repository)
        REFERENCES repositories (registry_id, region, name) ON DELETE CASCADE
);

CREATE TABLE manifests (
    registry_id       TEXT COLLATE "C" NOT NULL,
    region            TEXT COLLATE "C" NOT NULL,
    repository        TEXT COLLATE "C" NOT NULL,
    digest            TEXT COLLATE "C" NOT NULL,
    media_type        TEXT NOT NULL,
    artifact_type     TEXT,
    subject_digest    TEXT COLLATE "C",
    annotations       TEXT,
    body              BYTEA NOT NULL,
    image_size        BIGINT NOT NULL,
    pushed_at         DOUBLE PRECISION NOT NULL,
    last_pulled_at    DOUBLE PRECISION,
    config_media_type TEXT,
    archived          BIGINT NOT NULL DEFAULT 0,
    last_archived_at  DOUBLE PRECISION,
    last_activated_at DOUBLE PRECISION,
    PRIMARY KEY (registry_id, region, repository, digest),
    FOREIGN KEY (registry_id, region, repository)
        REFERENCES repositories (registry_id, region, name) ON DELETE CASCADE
);

CREATE INDEX manifests_by_subject ON manifests (registry_id, region, repository, subject_digest);

CREATE TABLE manifest_references (
    registry_id TEXT COLLATE "C" NOT NULL,
    region      TEXT COLLATE "C" NOT NULL,
    repository  TEXT COLLATE "C" NOT NULL,
    parent      TEXT COLLATE "C" NOT NULL,
    child       TEXT COLLATE "C" NOT NULL,
    kind        TEXT NOT NULL,
    PRIMARY KEY (registry_id, region, repository, parent, child),
    FOREIGN KEY (registry_id, region, repository, parent)
        REFERENCES manifests (registry_id, region, repository, digest) ON DELETE CASCADE
);

CREATE INDEX manifest_references_by_child ON manifest_references (registry_id, region, repository, child);
CREATE INDEX manifest_references_by_blob ON manifest_references (child) WHERE kind = 'blob';

CREATE TABLE image_tags (
    registry_id TEXT COLLATE "C" NOT NULL,
    region      TEXT COLLATE "C" NOT NULL,
    repository  TEXT COLLATE "C" NOT NULL,
    tag         TEXT COLLATE "C" NOT NULL,
    digest      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (registry_id, region, repository, tag),
    FOREIGN KEY (registry_id, region, repository, digest)
        REFERENCES manifests (registry_id, region, repository, digest) ON DELETE CASCADE
);

CREATE INDEX image_tags_by_digest ON image_tags (registry_id, region, repository, digest);

CREATE TABLE registries (
    registry_id               TEXT COLLATE "C" NOT NULL,
    region                    TEXT COLLATE "C" NOT NULL,
    policy_text               TEXT,
    account_settings          TEXT NOT NULL DEFAULT '{}',
    replication_configuration TEXT,
    scanning_configuration    TEXT,
    signing_configuration     TEXT,
    creation_templates        TEXT NOT NULL DEFAULT '[]',
    replication_backfills     TEXT NOT NULL DEFAULT '[]',
    pull_through_cache_rules  TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (registry_id, region)
);

CREATE TABLE pull_time_exclusions (
    registry_id   TEXT COLLATE "C" NOT NULL,
    region        TEXT COLLATE "C" NOT NULL,
    principal_arn TEXT COLLATE "C" NOT NULL,
    created_at    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (registry_id, region, principal_arn)
);

CREATE TABLE replications (
    registry_id      TEXT COLLATE "C" NOT NULL,
    region           TEXT COLLATE "C" NOT NULL,
    repository       TEXT COLLATE "C" NOT NULL,
    digest           TEXT COLLATE "C" NOT NULL,
    dest_registry_id TEXT COLLATE "C" NOT NULL,
    dest_region      TEXT COLLATE "C" NOT NULL,
    status           TEXT NOT NULL,
    failure_code     TEXT,
    updated_at       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (registry_id, region, repository, digest, dest_registry_id, dest_region)
);

CREATE INDEX replications_in_progress ON replications (status) WHERE status = 'IN_PROGRESS';

CREATE TABLE image_scans (
    registry_id       TEXT COLLATE "C" NOT NULL,
    region            TEXT COLLATE "C" NOT NULL,
    repository        TEXT COLLATE "C" NOT NULL,
    digest            TEXT COLLATE "C" NOT NULL,
    status            TEXT NOT NULL,
    description       TEXT NOT NULL,
    started_at        DOUBLE PRECISION NOT NULL,
    completed_at      DOUBLE PRECISION,
    source_updated_at DOUBLE PRECISION,
    findings          TEXT NOT NULL DEFAULT '[]',
    enhanced_findings TEXT,
    PRIMARY KEY (registry_id, region, repository, digest),
    FOREIGN KEY (registry_id, region, repository, digest)
        REFERENCES manifests (registry_id, region, repository, digest) ON DELETE CASCADE
);

CREATE INDEX image_scans_in_progress ON image_scans (status) WHERE status = 'IN_PROGRESS';

CREATE TABLE image_signings (
    registry_id    TEXT COLLATE "C" NOT NULL,
    region         TEXT COLLATE "C" NOT NULL,
    repository     TEXT COLLATE "C" NOT NULL,
    digest         TEXT COLLATE "C" NOT NULL,
    profile_arn    TEXT COLLATE "C" NOT NULL,
    status         TEXT NOT NULL,
    failure_code   TEXT,
    failure_reason TEXT,
    updated_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (registry_id, region, repository, digest, profile_arn),
    FOREIGN KEY (registry_id, region, repository, digest)
        REFERENCES manifests (registry_id, region, repository, digest) ON DELETE CASCADE
);

CREATE INDEX image_signings_in_progress ON image_signings (status) WHERE status = 'IN_PROGRESS';
