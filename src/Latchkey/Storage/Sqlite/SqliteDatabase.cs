using System.Data.Common;
using System.Runtime.CompilerServices;
using Latchkey.Storage.Sql;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Latchkey.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file, <c>latchkey.db</c>, in the data folder. WAL mode lets the CLI write
/// while the server reads; a busy timeout makes concurrent writers wait instead of failing.
/// </summary>
public sealed class SqliteDatabase : SqlDatabase
{
    public const string FileName = "latchkey.db";

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
        // 3: containment. Cut-offs of users' tokens; one table of revocations that every node reads by time of change (it
        // replaces revoked_access_tokens); revoked keys; the introspection permission; the first-party client as a row, so
        // that it can be disabled like any other; login throttling per (username, address), per username across addresses
        // (with the addresses a user logged in from) and per address, with a row per lock for the audit log.
        """
        ALTER TABLE users ADD COLUMN tokens_valid_after INTEGER;
        ALTER TABLE clients ADD COLUMN introspection TEXT;
        ALTER TABLE clients ADD COLUMN is_public INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE signing_keys ADD COLUMN revoked_at INTEGER;
        CREATE TABLE revocations (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            recorded_at INTEGER NOT NULL,
            PRIMARY KEY (kind, id)
        );
        CREATE INDEX ix_revocations_recorded ON revocations (recorded_at);
        CREATE INDEX ix_revocations_expires ON revocations (expires_at);
        INSERT INTO revocations (kind, id, at, expires_at, recorded_at)
        SELECT 'jti', jti, 0, expires_at, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM revoked_access_tokens;
        DROP TABLE revoked_access_tokens;
        CREATE INDEX ix_refresh_families_absolute ON refresh_families (absolute_expires_at);
        CREATE INDEX ix_refresh_tokens_expires ON refresh_tokens (expires_at);
        INSERT INTO clients (client_id, secret_hash, grant_types, scopes, audience, disabled, created_at, introspection, is_public)
        VALUES ('default', '', '["password","refresh_token"]', '[]', NULL, 0, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), NULL, 1)
        ON CONFLICT (client_id) DO NOTHING;
        DROP TABLE login_failures_by_user;
        DROP TABLE login_failures_by_address;
        CREATE TABLE login_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_key TEXT NOT NULL,
            address TEXT NOT NULL,
            at INTEGER NOT NULL
        );
        CREATE INDEX ix_login_attempts_user ON login_attempts (user_key, at);
        CREATE INDEX ix_login_attempts_address ON login_attempts (address, at);
        CREATE INDEX ix_login_attempts_at ON login_attempts (at);
        CREATE TABLE login_streaks (
            user_key TEXT NOT NULL,
            address TEXT NOT NULL,
            failures INTEGER NOT NULL,
            last_failure_at INTEGER NOT NULL,
            PRIMARY KEY (user_key, address)
        );
        CREATE INDEX ix_login_streaks_last ON login_streaks (last_failure_at);
        CREATE TABLE login_known_addresses (
            user_key TEXT NOT NULL,
            address TEXT NOT NULL,
            last_success_at INTEGER NOT NULL,
            PRIMARY KEY (user_key, address)
        );
        CREATE INDEX ix_login_known_addresses_last ON login_known_addresses (last_success_at);
        CREATE TABLE login_locks (
            kind TEXT NOT NULL,
            lock_key TEXT NOT NULL,
            subject TEXT NOT NULL,
            address TEXT,
            started_at INTEGER NOT NULL,
            until_at INTEGER NOT NULL,
            refused INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (kind, lock_key)
        );
        CREATE INDEX ix_login_locks_until ON login_locks (until_at);
        CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ];


    public SqliteDatabase(string dataDirectory)
    {
        Path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dataDirectory, FileName));
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    /// <summary>
    /// The WAL size, in pages, at which a connection that commits copies the WAL into the database file itself (SQLite's
    /// default is 1,000). Ten times the default, about 40 MiB: reached only when no <see cref="SqliteCheckpoints"/> runs
    /// (the CLI: its last connection checkpoints as it closes) or it falls behind.
    /// </summary>
    public const int BackstopCheckpointPages = 10_000;

    public string ConnectionString { get; }

    public override string Provider => "SQLite";

    public override string Location => Path;

    public override int LatestSchemaVersion => Migrations.Length;

    public override bool KeepsQueriesPrepared => true;

    // BEGIN IMMEDIATE already serializes every write transaction: there is nothing finer to lock.
    public override string ForUpdate => "";

    public override string ForUpdateSkipLocked => "";

    public override string NowMillisecondsSql => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

    // BINARY, SQLite's default collation, compares bytes.
    public override string OrdinalCollation => "";

    /// <summary>Native connections whose per-connection PRAGMAs are set; entries go when the pool drops the connection.</summary>
    private readonly ConditionalWeakTable<SQLitePCL.sqlite3, SQLitePCL.sqlite3> _configured = new();

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        // The pool hands back the same native connection many times: its settings hold, so set them once per native
        // connection (a refresh-token rotation opens three, so this saved nine statements each).
        if (_configured.TryGetValue(connection.Handle!, out _))
            return connection;
        await using (SqliteCommand pragma = connection.CreateCommand())
        {
            // foreign_keys, busy_timeout and synchronous are per connection; journal_mode=WAL persists in the file.
            // synchronous=NORMAL in WAL mode: a commit is written to the WAL (in the kernel's page cache) before COMMIT
            // returns, and fsynced at checkpoints. A process that dies (kill -9, a crash) loses nothing committed, and
            // the file is never corrupted; only a power loss or kernel crash can undo the last commits (the database
            // then stays consistent, as of an earlier moment). FULL would fsync every commit: one refresh-token
            // rotation per disk flush (bench/RESULTS.md).
            // wal_autocheckpoint: a server copies the WAL into the database file on a thread of its own
            // (SqliteCheckpoints); its connections do it themselves only if the WAL grows far past SQLite's default.
            pragma.CommandText = $"PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = {BackstopCheckpointPages};";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
        }

        _configured.AddOrUpdate(connection.Handle!, connection.Handle!);

        return connection;
    }

    /// <summary>
    /// A connection of its own for <see cref="SqliteCheckpoints"/>: outside the pool, it needs no other setting, and it
    /// may not create the file (a checkpoint must not leave an empty database where one was moved away).
    /// </summary>
    internal SqliteConnection OpenForCheckpoints()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder(ConnectionString) { Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    // Microsoft.Data.Sqlite has no async BEGIN IMMEDIATE; the call is local and brief.
    public override Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    public override Task LockAsync(DbTransaction transaction, string name, CancellationToken cancellationToken) => Task.CompletedTask;

    public override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        CreateOwnerOnly(Path);
        try
        {
            await using DbConnection connection = await OpenAsync(cancellationToken);
            await using (DbCommand wal = connection.CreateCommand("PRAGMA journal_mode = WAL;"))
                await wal.ExecuteNonQueryAsync(cancellationToken);

            // BEGIN IMMEDIATE takes the write lock up front: a second process waits here, then sees the new version.
            await using DbTransaction transaction = await BeginWriteAsync(connection, cancellationToken);
            await ApplyMigrationsAsync(transaction, Migrations, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (SqliteException e)
        {
            throw new LatchkeyStartupException(
                $"The database {Path} cannot be used ({e.Message}). If it is damaged, restore it from a backup.");
        }
    }

    public override async Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken)
    {
        await using DbConnection connection = await OpenAsync(cancellationToken);
        return await ReadSchemaVersionAsync(connection, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", cancellationToken);
    }

    // A locked or busy file after the busy timeout, or a disk that is full or gone: the request may succeed later.
    public override bool IsUnavailable(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: 5 or 6 or 10 or 13 or 14 }; // BUSY, LOCKED, IOERR, FULL, CANTOPEN

    /// <summary>
    /// Readiness: the database file opens and answers <c>SELECT 1</c>. The connection is a fresh one, outside the pool,
    /// and may not create the file: a pooled connection keeps working on a file that was deleted or moved away, and
    /// creating an empty database would report "ready" for a server that has lost its users and keys.
    /// </summary>
    public override async Task<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken)
    {
        string connectionString = new SqliteConnectionStringBuilder(ConnectionString)
        {
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
        }.ToString();
        try
        {
            await using var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            await using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy("the database answers");
        }
        catch (SqliteException e)
        {
            // The path is not a secret, and it is what an operator needs; the exception goes to the health-check log.
            return HealthCheckResult.Unhealthy($"the database {Path} does not answer: {e.Message}", e);
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
}
