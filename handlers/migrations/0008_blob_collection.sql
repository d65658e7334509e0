-- Garbage collection of blobs no manifest references. A blob is collected once it has
-- been seen unreferenced, and last linked into a repository (upload or mount), more than
-- the grace period ago; the grace keeps a blob whose manifest has not been pushed yet.
ALTER TABLE blobs ADD COLUMN linked_at REAL;
ALTER TABLE blobs ADD COLUMN unreferenced_since REAL;
UPDATE blobs SET linked_at = CAST(strftime('%s', 'now') AS REAL);

-- Which manifests, in any repository, reference a blob.
CREATE INDEX manifest_references_by_blob ON manifest_references (child) WHERE kind = 'blob';
