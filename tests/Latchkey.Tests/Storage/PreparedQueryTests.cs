using System.Data.Common;
using Latchkey.Storage.Sql;
using Latchkey.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Latchkey.Tests.Storage;

/// <summary>
/// <see cref="PreparedQuery"/> on SQLite: the lookup on every refresh request runs on a connection kept open, its
/// command prepared once. Kept open, it must still see every commit, and a connection a failure left behind is not reused.
/// </summary>
public sealed class PreparedQueryTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("latchkey-prepared-query-").FullName;
    private SqliteDatabase _database = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _database = new SqliteDatabase(_folder);
        await _database.MigrateAsync(Ct);
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }

    private Task<string?> FindUsernameAsync(PreparedQuery query, string id, List<DbCommand>? commandsSeen = null) =>
        query.ReadAsync(command =>
        {
            commandsSeen?.Add(command);
            command.Add("@id", id);
        }, async (reader, ct) => await reader.ReadAsync(ct) ? reader.GetString(0) : null, Ct);

    private async Task AddUserAsync(string id, string username)
    {
        await using DbConnection connection = await _database.OpenAsync(Ct);
        await using DbCommand insert = connection.CreateCommand(
            "INSERT INTO users (id, username, password_hash, roles, disabled, created_at, password_changed_at) VALUES (@id, @name, 'x', '[]', 0, 0, 0)")
            .Add("@id", id)
            .Add("@name", username);
        await insert.ExecuteNonQueryAsync(Ct);
    }

    [Fact]
    public async Task ReadAsync_OneAfterAnother_ReuseOneConnectionAndCommandAndSeeEachCommit()
    {
        using var query = new PreparedQuery(_database, "SELECT username FROM users WHERE id = @id");
        var commands = new List<DbCommand>();

        Assert.Null(await FindUsernameAsync(query, "u1", commands));
        await AddUserAsync("u1", "alice"); // committed by another connection after the first read
        Assert.Equal("alice", await FindUsernameAsync(query, "u1", commands));
        await AddUserAsync("u2", "bob");
        Assert.Equal("bob", await FindUsernameAsync(query, "u2", commands));

        Assert.Equal(3, commands.Count);
        Assert.All(commands, command => Assert.Same(commands[0], command));
        Assert.Equal(1, query.IdleCount);
    }

    [Fact]
    public async Task ReadAsync_ManyAtOnce_EachGetsItsOwnConnectionAndAtMostMaxIdleAreKept()
    {
        await AddUserAsync("u1", "alice");
        using var query = new PreparedQuery(_database, "SELECT username FROM users WHERE id = @id");
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int entered = 0;
        const int Concurrent = PreparedQuery.MaxIdle + 4;

        Task<string?>[] reads = [.. Enumerable.Range(0, Concurrent).Select(_ => query.ReadAsync(command => command.Add("@id", "u1"), async (reader, ct) =>
        {
            // Hold every reader open until all of them are: none may share a connection with another.
            if (Interlocked.Increment(ref entered) == Concurrent)
                inside.SetResult();
            await inside.Task.WaitAsync(ct);
            return await reader.ReadAsync(ct) ? reader.GetString(0) : null;
        }, Ct))];

        Assert.All(await Task.WhenAll(reads), username => Assert.Equal("alice", username));
        Assert.Equal(PreparedQuery.MaxIdle, query.IdleCount);
    }

    [Fact]
    public async Task ReadAsync_ReadThrows_TheConnectionIsClosedNotReusedAndTheNextReadWorks()
    {
        await AddUserAsync("u1", "alice");
        using var query = new PreparedQuery(_database, "SELECT username FROM users WHERE id = @id");
        var commands = new List<DbCommand>();
        Assert.Equal("alice", await FindUsernameAsync(query, "u1", commands));

        await Assert.ThrowsAsync<InvalidOperationException>(() => query.ReadAsync<string?>(command =>
        {
            commands.Add(command);
            command.Add("@id", "u1");
        }, (_, _) => throw new InvalidOperationException("a failing read"), Ct));

        Assert.Equal(0, query.IdleCount);
        Assert.Same(commands[0], commands[1]);
        Assert.Equal(System.Data.ConnectionState.Closed, commands[1].Connection!.State);
        Assert.Equal("alice", await FindUsernameAsync(query, "u1", commands));
        Assert.NotSame(commands[0], commands[2]); // a new connection, prepared again
    }

    [Fact]
    public async Task Dispose_ClosesTheKeptConnections_AndLaterReadsStillWorkWithoutKeepingAny()
    {
        await AddUserAsync("u1", "alice");
        var query = new PreparedQuery(_database, "SELECT username FROM users WHERE id = @id");
        var commands = new List<DbCommand>();
        Assert.Equal("alice", await FindUsernameAsync(query, "u1", commands));

        query.Dispose();

        Assert.Equal(0, query.IdleCount);
        Assert.Equal("alice", await FindUsernameAsync(query, "u1", commands));
        Assert.Equal(0, query.IdleCount);
    }
}
