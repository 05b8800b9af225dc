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
    /// <summary>PostgreSQL's words for the types <see cref="Schema"/> names differently on each provider.</summary>
    internal static readonly SchemaTypes SchemaTypes = new(
        // PostgreSQL's INTEGER is 32 bits: too few for times in milliseconds.
        Integer: "BIGINT",
        Bytes: "BYTEA",
        // The SQL standard's identity column; ALWAYS: an INSERT cannot choose the id.
        IdentityKey: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        // clock_timestamp(), not now(), as in NowMillisecondsSql.
        NowMilliseconds: "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        NowMillisecondsOfDefaultClient: "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT");

    // What MigrateAsync runs; internal for SchemaDriftTests.
    internal static readonly string[] Migrations = Schema.Migrations(SchemaTypes);

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
