using System.Data.Common;
using Latchkey.Storage.Sql;
using Latchkey.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Latchkey.Tests.Storage;

/// <summary>The per-connection settings every SQLite connection must have, whether newly opened or handed back by the pool.</summary>
public sealed class SqliteConnectionTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("latchkey-sqlite-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Open_NewAndReusedFromThePool_HaveForeignKeysBusyTimeoutAndSynchronousNormal()
    {
        var database = new SqliteDatabase(_folder);
        await database.MigrateAsync(Ct);

        for (int i = 0; i < 3; i++)
        {
            await using DbConnection connection = await database.OpenAsync(Ct);
            Assert.Equal(1L, await PragmaAsync(connection, "foreign_keys"));
            Assert.Equal(10000L, await PragmaAsync(connection, "busy_timeout"));
            Assert.Equal(1L, await PragmaAsync(connection, "synchronous")); // NORMAL
        }

        // Two at once: the second is a native connection of its own, set up the same way.
        await using DbConnection first = await database.OpenAsync(Ct);
        await using DbConnection second = await database.OpenAsync(Ct);
        Assert.Equal(1L, await PragmaAsync(second, "foreign_keys"));
        Assert.Equal(10000L, await PragmaAsync(second, "busy_timeout"));
    }

    private static async Task<long> PragmaAsync(DbConnection connection, string name)
    {
        await using DbCommand command = connection.CreateCommand("PRAGMA " + name);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
