-- ECR's storage classes: an image is in the standard class or archived
-- (UpdateImageStorageClass, lifecycle transitions). A restore sets last_activated_at to
-- when the image becomes pullable again; until then the image is ACTIVATING.
ALTER TABLE manifests ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN last_archived_at REAL;
ALTER TABLE manifests ADD COLUMN last_activated_at REAL;
