-- The admin audit log: who changed what, when. Rows are written in the transaction of the change
-- they record and are never changed or deleted (the triggers refuse it).
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    actor_id INTEGER,               -- the user; NULL for the command line and the server itself
    actor    TEXT NOT NULL,         -- the user's name then, "cli" or "system"
    action   TEXT NOT NULL,         -- such as user.create, apikey.revoke, run.start
    target   TEXT NOT NULL DEFAULT '',
    details  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
