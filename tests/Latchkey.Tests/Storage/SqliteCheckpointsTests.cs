using System.Data.Common;
using Latchkey.Storage.Sql;
using Latchkey.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Latchkey.Tests.Storage;

/// <summary>
/// A server's SQLite connections leave the write-ahead log to <see cref="SqliteCheckpoints"/>, which copies it into the
/// database file on its own thread. Observed from outside: the database file grows only when a checkpoint copies pages
/// into it, the WAL file until then.
/// </summary>
public sealed class SqliteCheckpointsTests : IDisposable
{
    // 1,600 pages of 4 KiB: past SQLite's default of 1,000 WAL pages, at which a committing connection would checkpoint.
    private const int Rows = 100, RowBytes = 64 * 1024;

    private readonly string _folder = Directory.CreateTempSubdirectory("latchkey-checkpoints-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Commits_PastSqlitesDefaultWalSize_DoNotCheckpointOnTheCommittingConnection()
    {
        var database = new SqliteDatabase(_folder);
        await database.MigrateAsync(Ct);

        await using DbConnection connection = await database.OpenAsync(Ct);
        await WriteRowsAsync(connection);

        Assert.True(new FileInfo(database.Path + "-wal").Length >= Rows * RowBytes, "the rows are in the WAL");
        Assert.True(new FileInfo(database.Path).Length < Rows * RowBytes / 4, "no commit copied them into the database file");
    }

    [Fact]
    public async Task Checkpointer_CopiesTheWalIntoTheDatabaseFile_UntilStopped()
    {
        var database = new SqliteDatabase(_folder);
        await database.MigrateAsync(Ct);
        using var checkpoints = new SqliteCheckpoints(database, NullLogger<SqliteCheckpoints>.Instance);
        await checkpoints.StartAsync(Ct);

        await using DbConnection connection = await database.OpenAsync(Ct);
        await WriteRowsAsync(connection);
        Assert.True(await EventuallyAsync(() => new FileInfo(database.Path).Length >= Rows * RowBytes), "the rows reached the database file");

        await checkpoints.StopAsync(Ct);
        long stoppedAt = new FileInfo(database.Path).Length;
        await WriteRowsAsync(connection, firstId: Rows);
        await Task.Delay(SqliteCheckpoints.Interval * 5, Ct);
        Assert.Equal(stoppedAt, new FileInfo(database.Path).Length);
    }

    [Fact]
    public async Task Checkpointer_DisposedWithoutBeingStopped_StopsItsThread()
    {
        // A host whose start fails (its port taken) disposes the services it started without stopping them. The thread
        // then waited on a disposed token and crashed the process (exit 134).
        var database = new SqliteDatabase(_folder);
        await database.MigrateAsync(Ct);
        var checkpoints = new SqliteCheckpoints(database, NullLogger<SqliteCheckpoints>.Instance);
        await checkpoints.StartAsync(Ct);

        checkpoints.Dispose();

        await using DbConnection connection = await database.OpenAsync(Ct);
        long before = new FileInfo(database.Path).Length;
        await WriteRowsAsync(connection);
        await Task.Delay(SqliteCheckpoints.Interval * 5, Ct);
        Assert.Equal(before, new FileInfo(database.Path).Length);
    }

    [Fact]
    public void AddLatchkey_RunsTheCheckpointer_TheStorageAloneDoesNot()
    {
        IServiceCollection services = new ServiceCollection().AddLatchkey();

        Assert.Contains(services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(SqliteCheckpoints));
        Assert.DoesNotContain(new ServiceCollection().AddLatchkeyStorage(), d => d.ImplementationType == typeof(SqliteCheckpoints));
    }

    /// <summary>
    /// Each row in a transaction of its own, as requests commit. The connection stays open until the test ends: the
    /// last connection to close checkpoints, and other tests clear the connection pools while this one runs.
    /// </summary>
    private static async Task WriteRowsAsync(DbConnection connection, int firstId = 0)
    {
        await using (DbCommand create = connection.CreateCommand("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, data BLOB)"))
            await create.ExecuteNonQueryAsync(Ct);
        for (int id = firstId; id < firstId + Rows; id++)
        {
            await using DbCommand insert = connection.CreateCommand("INSERT INTO filler (id, data) VALUES (@id, randomblob(@bytes))")
                .Add("@id", (long)id)
                .Add("@bytes", (long)RowBytes);
            await insert.ExecuteNonQueryAsync(Ct);
        }
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (var waited = TimeSpan.Zero; waited < TimeSpan.FromSeconds(10); waited += TimeSpan.FromMilliseconds(20))
        {
            if (condition())
                return true;
            await Task.Delay(20, Ct);
        }

        return condition();
    }
}
