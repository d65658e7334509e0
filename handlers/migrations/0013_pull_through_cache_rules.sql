-- Pull-through cache rules (CreatePullThroughCacheRule): a JSON array of the ECR shape per
-- registry (quota 50), part of the registry record.
ALTER TABLE registries ADD COLUMN pull_through_cache_rules TEXT NOT NULL DEFAULT '[]';
