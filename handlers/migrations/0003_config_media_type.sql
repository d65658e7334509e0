-- The config media type (ECR's artifactMediaType), stored at push time so that listings
-- never read manifest bodies. Existing images get it from their stored bytes.
ALTER TABLE manifests ADD COLUMN config_media_type TEXT;

UPDATE manifests
SET config_media_type = json_extract(CAST(body AS TEXT), '$.config.mediaType')
WHERE json_valid(CAST(body AS TEXT));
