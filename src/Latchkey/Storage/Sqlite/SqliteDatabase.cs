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

    /// <summary>SQLite's words for the types <see cref="Schema"/> names differently on each provider.</summary>
    internal static readonly SchemaTypes SchemaTypes = new(
        // SQLite's INTEGER is already 64 bits.
        Integer: "INTEGER",
        Bytes: "BLOB",
        // An alias of the rowid; AUTOINCREMENT never hands an id out again, not even the highest after its row was deleted.
        IdentityKey: "INTEGER PRIMARY KEY AUTOINCREMENT",
        NowMilliseconds: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        NowMillisecondsOfDefaultClient: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)");

    // What MigrateAsync runs; internal for SchemaDriftTests.
    internal static readonly string[] Migrations = Schema.Migrations(SchemaTypes);


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
