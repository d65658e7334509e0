-- Repository creation templates (CreateRepositoryCreationTemplate): a JSON array of the ECR
-- shape, part of the registry record. A registry has few templates (quota 50), always
-- read and changed together when a repository is created or a template is put.
ALTER TABLE registries ADD COLUMN creation_templates TEXT NOT NULL DEFAULT '[]';
