-- The registry: blobs and their per-repository links, upload sessions, manifests, tags.
-- The placeholder images table of 0001 never held data outside tests; manifests replace it.

DROP TABLE images;

-- Blobs on disk at blobs/sha256/<2 hex>/<hex>, shared by every repository and account;
-- a repository sees a blob only through a link.
CREATE TABLE blobs (
    digest TEXT    NOT NULL PRIMARY KEY,
    size   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE repository_blobs (
    registry_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    digest      TEXT NOT NULL REFERENCES blobs (digest),
    PRIMARY KEY (registry_id, region, repository, digest),
    FOREIGN KEY (registry_id, region, repository)
        REFERENCES repositories (registry_id, region, name) ON DELETE CASCADE
) WITHOUT ROWID;

-- Upload sessions; the bytes received are the length of uploads/<id> on disk.
CREATE TABLE uploads (
    id          TEXT NOT NULL PRIMARY KEY,
    registry_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    -- 'oci' for /v2 sessions, 'ecr' for InitiateLayerUpload (parts have ECR's rules).
    kind        TEXT NOT NULL,
    FOREIGN KEY (registry_id, region, repository)
        REFERENCES repositories (registry_id, region, name) ON DELETE CASCADE
);

-- Manifests with their exact bytes, as ECR keeps them.
CREATE TABLE manifests (
    registry_id    TEXT    NOT NULL,
    region         TEXT    NOT NULL,
    repository     TEXT    NOT NULL,
    digest         TEXT    NOT NULL,
    media_type     TEXT    NOT NULL,
    artifact_type  TEXT,
    subject_digest TEXT,
    -- JSON object of the manifest's annotations, for the referrers API.
    annotations    TEXT,
    body           BLOB    NOT NULL,
    -- Layers plus config, or for an index the largest child, as ECR's imageSizeInBytes.
    image_size     INTEGER NOT NULL,
    pushed_at      REAL    NOT NULL,
    last_pulled_at REAL,
    PRIMARY KEY (registry_id, region, repository, digest),
    FOREIGN KEY (registry_id, region, repository)
        REFERENCES repositories (registry_id, region, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX manifests_by_subject ON manifests (registry_id, region, repository, subject_digest);

-- Index -> child manifest edges and manifest -> blob edges of one repository.
CREATE TABLE manifest_references (
    registry_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    parent      TEXT NOT NULL,
    child       TEXT NOT NULL,
    -- 'manifest' (index child) or 'blob' (config or layer)
    kind        TEXT NOT NULL,
    PRIMARY KEY (registry_id, region, repository, parent, child),
    FOREIGN KEY (registry_id, region, repository, parent)
        REFERENCES manifests (registry_id, region, repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX manifest_references_by_child ON manifest_references (registry_id, region, repository, child);

CREATE TABLE image_tags (
    registry_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    tag         TEXT NOT NULL,
    digest      TEXT NOT NULL,
    PRIMARY KEY (registry_id, region, repository, tag),
    FOREIGN KEY (registry_id, region, repository, digest)
        REFERENCES manifests (registry_id, region, repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX image_tags_by_digest ON image_tags (registry_id, region, repository, digest);
