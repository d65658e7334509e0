-- The repository's lifecycle policy (PutLifecyclePolicy), compacted as ECR echoes it, and
-- when it was last evaluated (epoch seconds; NULL until the first evaluation).
ALTER TABLE repositories ADD COLUMN lifecycle_policy TEXT;
ALTER TABLE repositories ADD COLUMN lifecycle_evaluated_at REAL;
