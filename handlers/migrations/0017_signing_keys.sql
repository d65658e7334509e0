-- Each managed signing profile's key pair and certificate, made on the profile's first
-- signing. Kept in the metadata store (not in one process's data dir) so that every
-- replica sharing the store signs with the same key.
CREATE TABLE signing_keys (
    profile_arn     TEXT NOT NULL PRIMARY KEY,
    -- PKCS#8 of the ECDSA P-256 key, base64.
    pkcs8           TEXT NOT NULL,
    certificate_pem TEXT NOT NULL
) WITHOUT ROWID;
