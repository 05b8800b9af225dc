namespace Latchkey.Storage.Sql;

/// <summary>
/// The migrations of both providers, written once: migration N is the N-th entry (schema version N) on SQLite and on
/// PostgreSQL alike, in each one's words for the few types they name differently (<see cref="SchemaTypes"/>). A
/// migration that has shipped never changes, since a database already at its version will not run it again: a change
/// to the schema is a new migration at the end.
/// </summary>
internal static class Schema
{
    public static string[] Migrations(SchemaTypes types) =>
    [
        // 1: users, signing keys, login throttling.
        $"""
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            roles TEXT NOT NULL,
            disabled {types.Integer} NOT NULL DEFAULT 0,
            created_at {types.Integer} NOT NULL,
            password_changed_at {types.Integer} NOT NULL
        );
        CREATE TABLE signing_keys (
            kid TEXT PRIMARY KEY,
            algorithm TEXT NOT NULL,
            public_jwk TEXT NOT NULL,
            protected_private_key {types.Bytes} NOT NULL,
            created_at {types.Integer} NOT NULL,
            activates_at {types.Integer} NOT NULL,
            retired_at {types.Integer}
        );
        CREATE TABLE login_failures_by_user (
            user_key TEXT PRIMARY KEY,
            failures {types.Integer} NOT NULL,
            last_failure_at {types.Integer} NOT NULL
        );
        CREATE TABLE login_failures_by_address (
            address TEXT NOT NULL,
            failed_at {types.Integer} NOT NULL
        );
        CREATE INDEX ix_login_failures_by_address ON login_failures_by_address (address, failed_at);
        """,
        // 2: clients, refresh-token families, revoked access tokens, the audit log.
        $"""
        CREATE TABLE clients (
            client_id TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL,
            grant_types TEXT NOT NULL,
            scopes TEXT NOT NULL,
            audience TEXT,
            disabled {types.Integer} NOT NULL DEFAULT 0,
            created_at {types.Integer} NOT NULL
        );
        CREATE TABLE refresh_families (
            family_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            created_at {types.Integer} NOT NULL,
            absolute_expires_at {types.Integer} NOT NULL,
            revoked_at {types.Integer}
        );
        CREATE INDEX ix_refresh_families_user ON refresh_families (user_id);
        CREATE INDEX ix_refresh_families_client ON refresh_families (client_id);
        CREATE TABLE refresh_tokens (
            token_hash TEXT PRIMARY KEY,
            family_id TEXT NOT NULL REFERENCES refresh_families (family_id) ON DELETE CASCADE,
            client_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            scope TEXT,
            created_at {types.Integer} NOT NULL,
            expires_at {types.Integer} NOT NULL,
            spent_at {types.Integer},
            sealed_successor {types.Bytes},
            sealed_until {types.Integer}
        );
        CREATE INDEX ix_refresh_tokens_family ON refresh_tokens (family_id);
        CREATE INDEX ix_refresh_tokens_sealed ON refresh_tokens (sealed_until) WHERE sealed_until IS NOT NULL;
        CREATE TABLE revoked_access_tokens (
            jti TEXT PRIMARY KEY,
            expires_at {types.Integer} NOT NULL
        );
        CREATE TABLE audit_events (
            id {types.IdentityKey},
            at {types.Integer} NOT NULL,
            type TEXT NOT NULL,
            outcome TEXT NOT NULL,
            actor TEXT,
            subject TEXT,
            client_id TEXT,
            address TEXT,
            detail TEXT
        );
        CREATE INDEX ix_audit_events_at ON audit_events (at);
        """,
        // 3: containment. Cut-offs of users' tokens; one table of revocations that every node reads by time of change (it
        // replaces revoked_access_tokens); revoked keys; the introspection permission; the first-party client as a row, so
        // that it can be disabled like any other; login throttling per (username, address), per username across addresses
        // (with the addresses a user logged in from) and per address, with a row per lock for the audit log.
        $"""
        ALTER TABLE users ADD COLUMN tokens_valid_after {types.Integer};
        ALTER TABLE clients ADD COLUMN introspection TEXT;
        ALTER TABLE clients ADD COLUMN is_public {types.Integer} NOT NULL DEFAULT 0;
        ALTER TABLE signing_keys ADD COLUMN revoked_at {types.Integer};
        CREATE TABLE revocations (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            at {types.Integer} NOT NULL,
            expires_at {types.Integer} NOT NULL,
            recorded_at {types.Integer} NOT NULL,
            PRIMARY KEY (kind, id)
        );
        CREATE INDEX ix_revocations_recorded ON revocations (recorded_at);
        CREATE INDEX ix_revocations_expires ON revocations (expires_at);
        INSERT INTO revocations (kind, id, at, expires_at, recorded_at)
        SELECT 'jti', jti, 0, expires_at, {types.NowMilliseconds} FROM revoked_access_tokens;
        DROP TABLE revoked_access_tokens;
        CREATE INDEX ix_refresh_families_absolute ON refresh_families (absolute_expires_at);
        CREATE INDEX ix_refresh_tokens_expires ON refresh_tokens (expires_at);
        INSERT INTO clients (client_id, secret_hash, grant_types, scopes, audience, disabled, created_at, introspection, is_public)
        VALUES ('default', '', '["password","refresh_token"]', '[]', NULL, 0, {types.NowMillisecondsOfDefaultClient}, NULL, 1)
        ON CONFLICT (client_id) DO NOTHING;
        DROP TABLE login_failures_by_user;
        DROP TABLE login_failures_by_address;
        CREATE TABLE login_attempts (
            id {types.IdentityKey},
            user_key TEXT NOT NULL,
            address TEXT NOT NULL,
            at {types.Integer} NOT NULL
        );
        CREATE INDEX ix_login_attempts_user ON login_attempts (user_key, at);
        CREATE INDEX ix_login_attempts_address ON login_attempts (address, at);
        CREATE INDEX ix_login_attempts_at ON login_attempts (at);
        CREATE TABLE login_streaks (
            user_key TEXT NOT NULL,
            address TEXT NOT NULL,
            failures {types.Integer} NOT NULL,
            last_failure_at {types.Integer} NOT NULL,
            PRIMARY KEY (user_key, address)
        );
        CREATE INDEX ix_login_streaks_last ON login_streaks (last_failure_at);
        CREATE TABLE login_known_addresses (
            user_key TEXT NOT NULL,
            address TEXT NOT NULL,
            last_success_at {types.Integer} NOT NULL,
            PRIMARY KEY (user_key, address)
        );
        CREATE INDEX ix_login_known_addresses_last ON login_known_addresses (last_success_at);
        CREATE TABLE login_locks (
            kind TEXT NOT NULL,
            lock_key TEXT NOT NULL,
            subject TEXT NOT NULL,
            address TEXT,
            started_at {types.Integer} NOT NULL,
            until_at {types.Integer} NOT NULL,
            refused {types.Integer} NOT NULL DEFAULT 0,
            PRIMARY KEY (kind, lock_key)
        );
        CREATE INDEX ix_login_locks_until ON login_locks (until_at);
        CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
        // 4: browser sign-in. Clients' redirect URIs and whether they are first-party (no consent page); login sessions (one per
        // browser sign-in, found by the hash of the cookie's secret); authorization codes (by the hash of the code), with what
        // was issued from each, so that a second redemption can revoke it; the session a refresh family began in (logout of
        // the session revokes it); consents given to third-party clients; users' optional e-mail address and name.
        $"""
        ALTER TABLE clients ADD COLUMN redirect_uris TEXT;
        ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT;
        ALTER TABLE clients ADD COLUMN first_party {types.Integer} NOT NULL DEFAULT 0;
        CREATE TABLE login_sessions (
            session_id TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL,
            auth_time {types.Integer} NOT NULL,
            last_used_at {types.Integer} NOT NULL,
            expires_at {types.Integer} NOT NULL,
            ended_at {types.Integer},
            address TEXT
        );
        CREATE INDEX ix_login_sessions_user ON login_sessions (user_id);
        CREATE INDEX ix_login_sessions_expires ON login_sessions (expires_at);
        CREATE TABLE authorization_codes (
            code_hash TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            redirect_uri TEXT NOT NULL,
            code_challenge TEXT NOT NULL,
            nonce TEXT,
            scope TEXT,
            session_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            auth_time {types.Integer} NOT NULL,
            expires_at {types.Integer} NOT NULL,
            redeemed_at {types.Integer},
            replayed_at {types.Integer},
            issued_family_id TEXT,
            issued_jti TEXT,
            issued_expires_at {types.Integer}
        );
        CREATE INDEX ix_authorization_codes_expires ON authorization_codes (expires_at);
        ALTER TABLE refresh_families ADD COLUMN session_id TEXT;
        CREATE INDEX ix_refresh_families_session ON refresh_families (session_id) WHERE session_id IS NOT NULL;
        CREATE TABLE consents (
            user_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            scopes TEXT NOT NULL,
            granted_at {types.Integer} NOT NULL,
            PRIMARY KEY (user_id, client_id)
        );
        ALTER TABLE users ADD COLUMN email TEXT;
        ALTER TABLE users ADD COLUMN email_verified {types.Integer} NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN display_name TEXT;
        """,
        // 5: what a signing key signs: access tokens (every key until now) or id tokens (RS256, beside the access tokens' key);
        // the algorithm a client registered for its id tokens (null: RS256).
        """
        ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'access_token';
        ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT;
        """,
        // 6: second factors. The browser a session is in (what its account page lists); how each sign-in was made (amr, RFC 8176, space-separated: a password for every earlier one), on
        // its session, the codes sent from it and the logins (refresh families) begun from it; a user's authenticator app
        // (its TOTP secret encrypted under the master key, the last time step used so that a code works once), and their
        // recovery codes, by hash; wrong codes in a row, from any address (a cap on guessing); clients whose users must sign in with two factors.
        $"""
        ALTER TABLE login_sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
        ALTER TABLE login_sessions ADD COLUMN device TEXT;
        ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
        ALTER TABLE refresh_families ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
        ALTER TABLE clients ADD COLUMN require_mfa {types.Integer} NOT NULL DEFAULT 0;
        CREATE TABLE totp_factors (
            user_id TEXT PRIMARY KEY,
            secret {types.Bytes} NOT NULL,
            created_at {types.Integer} NOT NULL,
            confirmed_at {types.Integer},
            last_step {types.Integer} NOT NULL DEFAULT 0,
            last_used_at {types.Integer},
            failures {types.Integer} NOT NULL DEFAULT 0,
            last_failure_at {types.Integer}
        );
        CREATE TABLE recovery_codes (
            user_id TEXT NOT NULL,
            code_hash TEXT NOT NULL,
            created_at {types.Integer} NOT NULL,
            used_at {types.Integer},
            PRIMARY KEY (user_id, code_hash)
        );
        """,
        // 7: passkeys (WebAuthn credentials): the public key the authenticator made, its signature counter and backup flags
        // (WebAuthn §6.1), its transports (hints for the browser), a name the user gives it. The challenges of ceremonies
        // already answered, until they expire, so that an assertion is taken once. Wrong codes in a row move out of
        // totp_factors to a table of their own: a user with passkeys and recovery codes but no authenticator app has them too.
        $"""
        CREATE TABLE passkeys (
            credential_id {types.Bytes} PRIMARY KEY,
            user_id TEXT NOT NULL,
            name TEXT NOT NULL,
            public_key {types.Bytes} NOT NULL,
            sign_count {types.Integer} NOT NULL,
            backup_eligible {types.Integer} NOT NULL,
            backed_up {types.Integer} NOT NULL,
            transports TEXT NOT NULL,
            created_at {types.Integer} NOT NULL,
            last_used_at {types.Integer}
        );
        CREATE INDEX passkeys_user ON passkeys (user_id);
        CREATE TABLE used_challenges (
            challenge TEXT PRIMARY KEY,
            expires_at {types.Integer} NOT NULL
        );
        CREATE INDEX used_challenges_expires ON used_challenges (expires_at);
        CREATE TABLE code_attempts (
            user_id TEXT PRIMARY KEY,
            failures {types.Integer} NOT NULL,
            last_failure_at {types.Integer} NOT NULL
        );
        INSERT INTO code_attempts (user_id, failures, last_failure_at)
            SELECT user_id, failures, last_failure_at FROM totp_factors WHERE failures > 0 AND last_failure_at IS NOT NULL;
        """,
    ];
}
