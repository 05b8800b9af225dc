using Latchkey.Diagnostics;
using Latchkey.Storage.Sql;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Latchkey.Storage.Sqlite;

/// <summary>
/// Copies SQLite's write-ahead log back into the database file every <see cref="Interval"/>, on a thread of its own.
/// Left to SQLite, the connection whose commit takes the WAL past 1,000 pages does that copy itself, with two fsyncs,
/// before its COMMIT returns: under refresh rotations that was the group writer, several times a second, while every
/// rotation queued behind it waited and the core sat idle (bench/README.md, "Where a refresh rotation's time goes").
/// A PASSIVE checkpoint takes no lock that readers or the writer wait for. The connections Latchkey opens still
/// checkpoint themselves past <see cref="SqliteDatabase.BackstopCheckpointPages"/>, should this thread fall behind.
/// </summary>
internal sealed class SqliteCheckpoints(SqlDatabase database, ILogger<SqliteCheckpoints> logger) : IHostedService, IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private readonly CancellationTokenSource _stopping = new();
    private Thread? _thread;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // PostgreSQL checkpoints on its own.
        if (database is SqliteDatabase sqlite)
        {
            // A thread, not a timer on the thread pool: a checkpoint blocks in fsync, and a server pinned to one core
            // may have a single pool thread.
            _thread = new Thread(() => Run(sqlite)) { IsBackground = true, Name = "SQLite checkpoints" };
            _thread.Start();
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Stop();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops the thread first: a host that fails to start (its port taken) disposes its services without stopping them,
    /// and the thread must not outlive the token it waits on.
    /// </summary>
    public void Dispose()
    {
        Stop();
        _stopping.Dispose();
    }

    private void Stop()
    {
        _stopping.Cancel();
        _thread?.Join(); // waits for at most the checkpoint under way
    }

    private void Run(SqliteDatabase sqlite)
    {
        SqliteConnection? connection = null;
        bool failing = false;
        while (!_stopping.Token.WaitHandle.WaitOne(Interval))
        {
            try
            {
                connection ??= sqlite.OpenForCheckpoints();
                using SqliteCommand checkpoint = connection.CreateCommand();
                checkpoint.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
                checkpoint.ExecuteNonQuery();
                failing = false;
            }
            catch (SqliteException e)
            {
                // A disk that is full or gone fails every 100 ms: log when it starts failing, not each time.
                if (!failing)
                    Log.CheckpointFailed(logger, e);
                failing = true;
                connection?.Dispose();
                connection = null;
            }
        }

        connection?.Dispose();
    }
}
