using System.Data.Common;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Latchkey.Storage.Sql;

/// <summary>
/// The database behind every store: SQLite (the embedded default) or PostgreSQL (for several nodes). The stores are
/// written once, in the SQL both engines share, and so is the schema (<see cref="Schema"/>); what differs (connections,
/// write locks, the schema's type names, which failures mean "the database is down") lives in the two subclasses.
/// </summary>
public abstract class SqlDatabase
{
    /// <summary>"SQLite" or "PostgreSQL".</summary>
    public abstract string Provider { get; }

    /// <summary>Where the data is, for people: a file path, or host, port and database (never a password).</summary>
    public abstract string Location { get; }

    /// <summary>The schema version this build writes; the same number on both providers.</summary>
    public abstract int LatestSchemaVersion { get; }

    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// True when a query run on every request is worth a connection kept open for it, its statement prepared once
    /// (<see cref="PreparedQuery"/>): SQLite, whose provider prepares per command object. False for PostgreSQL, where
    /// Npgsql already keeps prepared statements on its pooled connections, and a connection held outside the pool
    /// could be closed by the server while idle.
    /// </summary>
    public virtual bool KeepsQueriesPrepared => false;

    /// <summary>
    /// Starts a transaction that will write. SQLite takes the database's write lock at once (<c>BEGIN IMMEDIATE</c>),
    /// so every write transaction is serialized; PostgreSQL starts a READ COMMITTED transaction, and the stores lock
    /// the rows they decide on with <see cref="ForUpdate"/>.
    /// </summary>
    public abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Appended to a SELECT whose rows the transaction goes on to change: <c>FOR UPDATE</c> where rows can be locked.</summary>
    public abstract string ForUpdate { get; }

    /// <summary>Like <see cref="ForUpdate"/>, but passing over rows another transaction holds instead of waiting for them.</summary>
    public abstract string ForUpdateSkipLocked { get; }

    /// <summary>
    /// An SQL expression for the database's own clock, in Unix milliseconds: one clock for every node, where a node's own may
    /// run ahead or behind. What each node's sync of the revocations counts from.
    /// </summary>
    public abstract string NowMillisecondsSql { get; }

    /// <summary>
    /// Appended to a text column in ORDER BY to sort by bytes, as SQLite always does: PostgreSQL otherwise sorts by its
    /// database's locale, so lists would come out in another order on each provider.
    /// </summary>
    public abstract string OrdinalCollation { get; }

    /// <summary>
    /// Within <paramref name="transaction"/>, waits until no other transaction holds the lock named <paramref name="name"/>:
    /// for decisions that span rows, such as "add a key unless another node just did".
    /// </summary>
    public abstract Task LockAsync(DbTransaction transaction, string name, CancellationToken cancellationToken);

    /// <summary>Creates or upgrades the schema; refuses, with a clear message, a database newer than this build.</summary>
    public abstract Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>The schema version stored in the database (0 when there is none yet).</summary>
    public abstract Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken);

    /// <summary>True when <paramref name="exception"/> means the database cannot be reached or is going away: worth a retry later (503), not a bug.</summary>
    public abstract bool IsUnavailable(Exception exception);

    /// <summary>True when <paramref name="exception"/> is a lock conflict the database resolved by aborting this transaction (a deadlock): try again.</summary>
    public virtual bool IsConflict(Exception exception) => false;

    /// <summary>Readiness: the database answers.</summary>
    public abstract Task<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken);

    /// <summary>The part of migrating both providers share: read the version, refuse a newer one, apply the rest in order.</summary>
    protected async Task ApplyMigrationsAsync(DbTransaction transaction, IReadOnlyList<string> migrations, CancellationToken cancellationToken)
    {
        await using DbCommand command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)";
        await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
        int current = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
        if (current > migrations.Count)
            throw new LatchkeyStartupException(
                $"The {Provider} database {Location} has schema version {current}, but this Latchkey knows only up to {migrations.Count}. " +
                "Upgrade Latchkey (every node), or restore a backup made by this version.");

        for (int version = current + 1; version <= migrations.Count; version++)
        {
            command.CommandText = migrations[version - 1];
            await command.ExecuteNonQueryAsync(cancellationToken);
            command.CommandText = $"INSERT INTO schema_version (version) VALUES ({version})";
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Reads the stored schema version on an open connection (0 when the table does not exist).</summary>
    protected static async Task<int> ReadSchemaVersionAsync(DbConnection connection, string tableExistsSql, CancellationToken cancellationToken)
    {
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = tableExistsSql;
        if (await command.ExecuteScalarAsync(cancellationToken) is null or DBNull)
            return 0;
        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
    }
}
