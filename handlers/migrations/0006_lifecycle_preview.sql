-- The repository's last lifecycle policy preview (StartLifecyclePolicyPreview): a JSON
-- object with the policy text as sent and the registry time the preview was started at.
ALTER TABLE repositories ADD COLUMN lifecycle_preview TEXT;
