-- One row per registry (account, region) whose registry-wide state was ever written: the
-- registry permissions policy, account settings, and the replication, scanning and signing
-- configurations (each a JSON document of the ECR shape). A registry without a row has the
-- defaults of a fresh ECR registry. Collections (creation templates, pull-through cache
-- rules, exclusions) get their own tables keyed by (registry_id, region).
CREATE TABLE registries (
    registry_id               TEXT NOT NULL,
    region                    TEXT NOT NULL,
    policy_text               TEXT,
    -- JSON object: account setting name -> value.
    account_settings          TEXT NOT NULL DEFAULT '{}',
    replication_configuration TEXT,
    scanning_configuration    TEXT,
    signing_configuration     TEXT,
    PRIMARY KEY (registry_id, region)
);
