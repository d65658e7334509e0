-- Each managed signing profile's key pair and certificate, made on the profile's first
-- signing, shared by every replica.
CREATE TABLE signing_keys (
    profile_arn     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    -- PKCS#8 of the ECDSA P-256 key, base64.
    pkcs8           TEXT NOT NULL,
    certificate_pem TEXT NOT NULL
);
