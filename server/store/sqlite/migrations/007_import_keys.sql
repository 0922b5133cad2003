-- Import keys (docs/architecture.md, "Import keys"): the HMAC key of one-shot snapshot files
-- (dozor.snapshot/v2) is derived from an enrollment token's plaintext when the token is issued and
-- kept here only wrapped (AES-256-GCM, "v1:<key id>:<hex>") with the server's import-wrap.key, a
-- file that never enters the database. A copy of this database alone cannot sign an import.
-- Tokens issued before this migration have no row: files made with them are refused with a message
-- saying to issue a new token.
CREATE TABLE enrollment_token_import_keys (
  token_id INTEGER PRIMARY KEY REFERENCES enrollment_tokens(id),
  wrapped_key TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
