-- shomei-store schema, version 1 (PostgreSQL). Applied once, in one transaction holding the
-- migration advisory lock; never edit an applied migration: add a new file (its SHA-256 is
-- recorded and checked at every open).

CREATE TABLE shomei_meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- A nonce is valid while now < expires_at and consumed_at IS NULL.
CREATE TABLE shomei_nonces (
    nonce       BYTEA PRIMARY KEY,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX shomei_nonces_expires_at ON shomei_nonces (expires_at);

CREATE TABLE shomei_reference_values (
    id         TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX shomei_reference_values_family ON shomei_reference_values (family, id);

CREATE TABLE shomei_policies (
    id         TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('native', 'rego')),
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX shomei_policies_family ON shomei_policies (family, id);

CREATE TABLE shomei_trust_anchors (
    id     TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    pem    TEXT NOT NULL
);
CREATE INDEX shomei_trust_anchors_family ON shomei_trust_anchors (family, id);

-- sealed = version ‖ nonce ‖ AES-256-GCM(KEK, value, aad = purpose ‖ id) ‖ tag
CREATE TABLE shomei_secrets (
    id     TEXT PRIMARY KEY,
    sealed BYTEA NOT NULL
);

CREATE TABLE shomei_service_keys (
    id     TEXT PRIMARY KEY,
    sealed BYTEA NOT NULL
);

-- Append-only: the triggers refuse UPDATE, DELETE and TRUNCATE.
CREATE TABLE shomei_audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE FUNCTION shomei_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'shomei_audit_log is append-only';
END
$$;
CREATE TRIGGER shomei_audit_log_no_update_delete BEFORE UPDATE OR DELETE ON shomei_audit_log
    FOR EACH ROW EXECUTE FUNCTION shomei_audit_log_append_only();
CREATE TRIGGER shomei_audit_log_no_truncate BEFORE TRUNCATE ON shomei_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION shomei_audit_log_append_only();
