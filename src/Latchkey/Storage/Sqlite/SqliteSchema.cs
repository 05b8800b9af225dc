using Microsoft.Data.Sqlite;

namespace Latchkey.Storage.Sqlite;

/// <summary>
/// Versioned migrations, applied in order inside one write transaction, so two processes starting at once
/// cannot both migrate. A database newer than this build is refused rather than misread.
/// </summary>
public static class SqliteSchema
{
    private static readonly string[] Migrations =
    [
        // 1: users, signing keys, login throttling.
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            roles TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            password_changed_at INTEGER NOT NULL
        );
        CREATE TABLE signing_keys (
            kid TEXT PRIMARY KEY,
            algorithm TEXT NOT NULL,
            public_jwk TEXT NOT NULL,
            protected_private_key BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            activates_at INTEGER NOT NULL,
            retired_at INTEGER
        );
        CREATE TABLE login_failures_by_user (
            user_key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            last_failure_at INTEGER NOT NULL
        );
        CREATE TABLE login_failures_by_address (
            address TEXT NOT NULL,
            failed_at INTEGER NOT NULL
        );
        CREATE INDEX ix_login_failures_by_address ON login_failures_by_address (address, failed_at);
        """,
        // 2: clients, refresh-token families, revoked access tokens, the audit log.
        """
        CREATE TABLE clients (
            client_id TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL,
            grant_types TEXT NOT NULL,
            scopes TEXT NOT NULL,
            audience TEXT,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE refresh_families (
            family_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            absolute_expires_at INTEGER NOT NULL,
            revoked_at INTEGER
        );
        CREATE INDEX ix_refresh_families_user ON refresh_families (user_id);
        CREATE INDEX ix_refresh_families_client ON refresh_families (client_id);
        CREATE TABLE refresh_tokens (
            token_hash TEXT PRIMARY KEY,
            family_id TEXT NOT NULL REFERENCES refresh_families (family_id) ON DELETE CASCADE,
            client_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            scope TEXT,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            spent_at INTEGER,
            sealed_successor BLOB,
            sealed_until INTEGER
        );
        CREATE INDEX ix_refresh_tokens_family ON refresh_tokens (family_id);
        CREATE INDEX ix_refresh_tokens_sealed ON refresh_tokens (sealed_until) WHERE sealed_until IS NOT NULL;
        CREATE TABLE revoked_access_tokens (
            jti TEXT PRIMARY KEY,
            expires_at INTEGER NOT NULL
        );
        CREATE TABLE audit_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
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
    ];

    /// <summary>The schema version this build writes.</summary>
    public static int LatestVersion => Migrations.Length;

    public static async Task MigrateAsync(SqliteDatabase database, CancellationToken cancellationToken)
    {
        CreateOwnerOnly(database.Path);
        try
        {
            await MigrateCoreAsync(database, cancellationToken);
        }
        catch (SqliteException e)
        {
            throw new LatchkeyStartupException(
                $"The database {database.Path} cannot be used ({e.Message}). If it is damaged, restore it from a backup.");
        }
    }

    /// <summary>
    /// The database holds password hashes: create it readable by its owner only (SQLite gives its -wal and -shm
    /// files the same permissions). An existing file keeps the permissions its operator chose.
    /// </summary>
    private static void CreateOwnerOnly(string path)
    {
        if (OperatingSystem.IsWindows() || File.Exists(path))
            return;
        try
        {
            new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }).Dispose();
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first.
        }
    }

    private static async Task MigrateCoreAsync(SqliteDatabase database, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using (SqliteCommand wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            await wal.ExecuteNonQueryAsync(cancellationToken);
        }

        // BEGIN IMMEDIATE takes the write lock up front: a second process waits here, then sees the new version.
        // Microsoft.Data.Sqlite has no async BEGIN IMMEDIATE; the call is local and brief.
        await using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        await using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL); SELECT COALESCE(MAX(version), 0) FROM schema_version;";
        int current = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
        if (current > LatestVersion)
            throw new LatchkeyStartupException(
                $"The database {database.Path} has schema version {current}, but this Latchkey knows only up to {LatestVersion}. " +
                "Upgrade Latchkey, or restore a backup made by this version.");

        for (int version = current + 1; version <= LatestVersion; version++)
        {
            command.CommandText = Migrations[version - 1] + $"\nINSERT INTO schema_version (version) VALUES ({version});";
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }
}
