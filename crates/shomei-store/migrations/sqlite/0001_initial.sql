-- shomei-store schema, version 1 (SQLite). Applied once, inside BEGIN IMMEDIATE; never edit an
-- applied migration: add a new file (its SHA-256 is recorded and checked at every open).

CREATE TABLE shomei_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

-- A nonce is valid while now < expires_at and consumed_at IS NULL.
CREATE TABLE shomei_nonces (
    nonce       BLOB PRIMARY KEY NOT NULL,
    expires_at  INTEGER NOT NULL,
    consumed_at INTEGER
);
CREATE INDEX shomei_nonces_expires_at ON shomei_nonces (expires_at);

CREATE TABLE shomei_reference_values (
    id         TEXT PRIMARY KEY NOT NULL,
    family     TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX shomei_reference_values_family ON shomei_reference_values (family, id);

CREATE TABLE shomei_policies (
    id         TEXT PRIMARY KEY NOT NULL,
    family     TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('native', 'rego')),
    body       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX shomei_policies_family ON shomei_policies (family, id);

CREATE TABLE shomei_trust_anchors (
    id     TEXT PRIMARY KEY NOT NULL,
    family TEXT NOT NULL,
    pem    TEXT NOT NULL
);
CREATE INDEX shomei_trust_anchors_family ON shomei_trust_anchors (family, id);

-- sealed = version ‖ nonce ‖ AES-256-GCM(KEK, value, aad = purpose ‖ id) ‖ tag
CREATE TABLE shomei_secrets (
    id     TEXT PRIMARY KEY NOT NULL,
    sealed BLOB NOT NULL
);

CREATE TABLE shomei_service_keys (
    id     TEXT PRIMARY KEY NOT NULL,
    sealed BLOB NOT NULL
);

-- Append-only: AUTOINCREMENT never reuses an id; the triggers refuse UPDATE and DELETE.
CREATE TABLE shomei_audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE TRIGGER shomei_audit_log_no_update BEFORE UPDATE ON shomei_audit_log
BEGIN
    SELECT RAISE(ABORT, 'shomei_audit_log is append-only');
END;
CREATE TRIGGER shomei_audit_log_no_delete BEFORE DELETE ON shomei_audit_log
BEGIN
    SELECT RAISE(ABORT, 'shomei_audit_log is append-only');
END;
