-- Repositories, their tags and policies, and the images that make a repository non-empty.
-- A registry is an (account, region) pair, as in ECR.

CREATE TABLE repositories (
    registry_id          TEXT    NOT NULL,
    region               TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    created_at           REAL    NOT NULL,
    image_tag_mutability TEXT    NOT NULL,
    -- JSON array of {"filterType", "filter"} as on the wire.
    mutability_exclusion_filters TEXT NOT NULL DEFAULT '[]',
    scan_on_push         INTEGER NOT NULL DEFAULT 0,
    encryption_type      TEXT    NOT NULL DEFAULT 'AES256',
    kms_key              TEXT,
    policy_text          TEXT,
    PRIMARY KEY (registry_id, region, name)
) WITHOUT ROWID;

CREATE TABLE repository_tags (
    registry_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    name        TEXT NOT NULL,
    tag_key     TEXT NOT NULL,
    tag_value   TEXT NOT NULL,
    PRIMARY KEY (registry_id, region, name, tag_key),
    FOREIGN KEY (registry_id, region, name)
        REFERENCES repositories (registry_id, region, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE images (
    registry_id  TEXT NOT NULL,
    region       TEXT NOT NULL,
    repository   TEXT NOT NULL,
    image_digest TEXT NOT NULL,
    PRIMARY KEY (registry_id, region, repository, image_digest),
    FOREIGN KEY (registry_id, region, repository)
        REFERENCES repositories (registry_id, region, name) ON DELETE CASCADE
) WITHOUT ROWID;
