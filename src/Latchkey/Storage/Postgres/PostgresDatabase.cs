using System.Data.Common;
using Latchkey.Storage.Sql;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Latchkey.Storage.Postgres;

/// <summary>
/// PostgreSQL, for several Latchkey nodes sharing one database. The tables are those of SQLite, with PostgreSQL's
/// types; every state change is one transaction, and the rows a decision rests on are locked (<c>FOR UPDATE</c>),
/// so two nodes deciding at once serialize exactly as two requests on one node do.
/// </summary>
public sealed class PostgresDatabase : SqlDatabase, IAsyncDisposable
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
            disabled BIGINT NOT NULL DEFAULT 0,
            created_at BIGINT NOT NULL,
            password_changed_at BIGINT NOT NULL
        );
        CREATE TABLE signing_keys (
            kid TEXT PRIMARY KEY,
            algorithm TEXT NOT NULL,
            public_jwk TEXT NOT NULL,
            protected_private_key BYTEA NOT NULL,
            created_at BIGINT NOT NULL,
            activates_at BIGINT NOT NULL,
            retired_at BIGINT
        );
        CREATE TABLE login_failures_by_user (
            user_key TEXT PRIMARY KEY,
            failures BIGINT NOT NULL,
            last_failure_at BIGINT NOT NULL
        );
        CREATE TABLE login_failures_by_address (
            address TEXT NOT NULL,
            failed_at BIGINT NOT NULL
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
            disabled BIGINT NOT NULL DEFAULT 0,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE refresh_families (
            family_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            absolute_expires_at BIGINT NOT NULL,
            revoked_at BIGINT
        );
        CREATE INDEX ix_refresh_families_user ON refresh_families (user_id);
        CREATE INDEX ix_refresh_families_client ON refresh_families (client_id);
        CREATE TABLE refresh_tokens (
            token_hash TEXT PRIMARY KEY,
            family_id TEXT NOT NULL REFERENCES refresh_families (family_id) ON DELETE CASCADE,
            client_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            scope TEXT,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            spent_at BIGINT,
            sealed_successor BYTEA,
            sealed_until BIGINT
        );
        CREATE INDEX ix_refresh_tokens_family ON refresh_tokens (family_id);
        CREATE INDEX ix_refresh_tokens_sealed ON refresh_tokens (sealed_until) WHERE sealed_until IS NOT NULL;
        CREATE TABLE revoked_access_tokens (
            jti TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL
        );
        CREATE TABLE audit_events (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at BIGINT NOT NULL,
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
        ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT;
        ALTER TABLE clients ADD COLUMN introspection TEXT;
        ALTER TABLE clients ADD COLUMN is_public BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE signing_keys ADD COLUMN revoked_at BIGINT;
        CREATE TABLE revocations (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            recorded_at BIGINT NOT NULL,
            PRIMARY KEY (kind, id)
        );
        CREATE INDEX ix_revocations_recorded ON revocations (recorded_at);
        CREATE INDEX ix_revocations_expires ON revocations (expires_at);
        INSERT INTO revocations (kind, id, at, expires_at, recorded_at)
        SELECT 'jti', jti, 0, expires_at, CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) FROM revoked_access_tokens;
        DROP TABLE revoked_access_tokens;
        CREATE INDEX ix_refresh_families_absolute ON refresh_families (absolute_expires_at);
        CREATE INDEX ix_refresh_tokens_expires ON refresh_tokens (expires_at);
        INSERT INTO clients (client_id, secret_hash, grant_types, scopes, audience, disabled, created_at, introspection, is_public)
        VALUES ('default', '', '["password","refresh_token"]', '[]', NULL, 0, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT, NULL, 1)
        ON CONFLICT (client_id) DO NOTHING;
        DROP TABLE login_failures_by_user;
        DROP TABLE login_failures_by_address;
        CREATE TABLE login_attempts (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_key TEXT NOT NULL,
            address TEXT NOT NULL,
            at BIGINT NOT NULL
        );
        CREATE INDEX ix_login_attempts_user ON login_attempts (user_key, at);
        CREATE INDEX ix_login_attempts_address ON login_attempts (address, at);
        CREATE INDEX ix_login_attempts_at ON login_attempts (at);
        CREATE TABLE login_streaks (
            user_key TEXT NOT NULL,
            address TEXT NOT NULL,
            failures BIGINT NOT NULL,
            last_failure_at BIGINT NOT NULL,
            PRIMARY KEY (user_key, address)
        );
        CREATE INDEX ix_login_streaks_last ON login_streaks (last_failure_at);
        CREATE TABLE login_known_addresses (
            user_key TEXT NOT NULL,
            address TEXT NOT NULL,
            last_success_at BIGINT NOT NULL,
            PRIMARY KEY (user_key, address)
        );
        CREATE INDEX ix_login_known_addresses_last ON login_known_addresses (last_success_at);
        CREATE TABLE login_locks (
            kind TEXT NOT NULL,
            lock_key TEXT NOT NULL,
            subject TEXT NOT NULL,
            address TEXT,
            started_at BIGINT NOT NULL,
            until_at BIGINT NOT NULL,
            refused BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (kind, lock_key)
        );
        CREATE INDEX ix_login_locks_until ON login_locks (until_at);
        CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ];

    private readonly NpgsqlDataSource _dataSource;

    /// <param name="connection">An Npgsql connection string (<c>Host=…;Database=…</c>) or a <c>postgres://</c> URL.</param>
    public PostgresDatabase(string connection)
    {
        var builder = PostgresConnectionString.WithLatchkeyDefaults(PostgresConnectionString.Normalize(connection));
        Location = $"{builder.Host}:{builder.Port}/{builder.Database}";
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    public override string Provider => "PostgreSQL";

    public override string Location { get; }

    public override int LatestSchemaVersion => Migrations.Length;

    public override string ForUpdate => " FOR UPDATE";

    public override string ForUpdateSkipLocked => " FOR UPDATE SKIP LOCKED";

    public override string OrdinalCollation => " COLLATE \"C\"";

    // clock_timestamp(), not now(): the time of the statement, not of its transaction's start.
    public override string NowMillisecondsSql => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken);

    public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken);

    /// <summary>A transaction-scoped advisory lock: released at commit or rollback, or when the node dies.</summary>
    public override async Task LockAsync(DbTransaction transaction, string name, CancellationToken cancellationToken)
    {
        await using DbCommand command = transaction.Connection!.CreateCommand("SELECT pg_advisory_xact_lock(hashtext(@name))", transaction);
        command.Add("@name", "latchkey:" + name);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using DbConnection connection = await OpenAsync(cancellationToken);
            await using DbTransaction transaction = await BeginWriteAsync(connection, cancellationToken);
            // Nodes starting together: the first migrates, the others wait here and then find nothing left to do.
            await LockAsync(transaction, "migrations", cancellationToken);
            await ApplyMigrationsAsync(transaction, Migrations, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (NpgsqlException e)
        {
            throw new LatchkeyStartupException($"The PostgreSQL database {Location} cannot be used: {e.Message}");
        }
    }

    public override async Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken)
    {
        await using DbConnection connection = await OpenAsync(cancellationToken);
        return await ReadSchemaVersionAsync(connection, "SELECT to_regclass('schema_version')::text", cancellationToken);
    }

    /// <summary>
    /// Connection refused or broken, the server shutting down or starting up, too many connections: transient.
    /// A constraint violation or a syntax error is not: that is a bug, and stays a 500.
    /// </summary>
    public override bool IsUnavailable(Exception exception) => exception switch
    {
        PostgresException p => p.IsTransient || p.SqlState.StartsWith("08", StringComparison.Ordinal)
            || p.SqlState.StartsWith("57P", StringComparison.Ordinal) || p.SqlState.StartsWith("53", StringComparison.Ordinal),
        NpgsqlException n => n.IsTransient || n.InnerException is System.Net.Sockets.SocketException or IOException or TimeoutException,
        _ => false,
    };

    public override bool IsConflict(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure };

    public override async Task<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using DbConnection connection = await OpenAsync(cancellationToken);
            await using DbCommand command = connection.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy("the database answers");
        }
        catch (NpgsqlException e)
        {
            return HealthCheckResult.Unhealthy($"the PostgreSQL database {Location} does not answer: {e.Message}", e);
        }
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
