using System.Buffers.Binary;
using System.Data.Common;
using System.Net;
using System.Net.Sockets;
using Latchkey.Storage;
using Latchkey.Storage.Postgres;
using Latchkey.Storage.Sql;
using Latchkey.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Latchkey.Tests.Storage;

/// <summary>
/// Group commit of refresh-token rotations (<see cref="RotationGroupCommit"/>), on SQLite: rotations are queued while
/// another connection holds the write lock, so they are certain to wait together; the transactions they commit are
/// counted in the WAL file, where every committed transaction ends with one commit frame.
/// </summary>
public sealed class RotationGroupCommitTests : IAsyncLifetime
{
    private const int Rotations = 20;
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_767_225_600_000);

    private readonly string _folder = Directory.CreateTempSubdirectory("latchkey-group-commit-").FullName;
    private readonly ServiceProvider _services;

    public RotationGroupCommitTests()
    {
        var services = new ServiceCollection();
        services.AddOptions<LatchkeyOptions>().Configure(o => o.DataDirectory = _folder);
        services.AddLatchkeyStorage();
        _services = services.BuildServiceProvider();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private SqliteDatabase Database => (SqliteDatabase)_services.GetRequiredService<SqlDatabase>();

    private IRefreshTokenStore Store => _services.GetRequiredService<IRefreshTokenStore>();

    public async ValueTask InitializeAsync() => await Database.MigrateAsync(Ct);

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Rotations_QueuedBehindAnotherWriter_AreCommittedTogetherAndOnlyOnceCommitted()
    {
        (RefreshTokenRecord Token, RefreshTokenRecord Successor)[] rotations = await StartFamiliesAsync();

        int transactions = await WhileAnotherWriterHoldsTheLockAsync(async release =>
        {
            Task<RefreshConsumeResult>[] pending = [.. rotations.Select(r => RotateAsync(r.Token, r.Successor))];
            await Task.Delay(200, Ct);
            // Nobody is told "consumed" before the rotation is committed.
            Assert.All(pending, task => Assert.False(task.IsCompleted));

            release();
            Assert.All(await Task.WhenAll(pending), result => Assert.Equal(RefreshConsumeStatus.Consumed, result.Status));
        });

        // The first rotation may have started a group of its own before the others were queued; the rest went together.
        Assert.InRange(transactions, 1, 2);
        foreach ((RefreshTokenRecord token, RefreshTokenRecord successor) in rotations)
        {
            Assert.Equal(T0.AddHours(1), (await Store.FindAsync(token.TokenHash, Ct))!.Token.SpentAt);
            Assert.NotNull(await Store.FindAsync(successor.TokenHash, Ct));
        }
    }

    [Fact]
    public async Task Rotations_QueuedTogether_OneFailingFailsAloneAndTheOthersAreCommitted()
    {
        (RefreshTokenRecord Token, RefreshTokenRecord Successor)[] rotations = await StartFamiliesAsync();
        // A successor whose hash is already stored cannot be inserted.
        const int failing = Rotations / 2;
        rotations[failing].Successor = rotations[failing].Successor with { TokenHash = rotations[0].Token.TokenHash };

        Task<RefreshConsumeResult>[] pending = [];
        await WhileAnotherWriterHoldsTheLockAsync(release =>
        {
            pending = [.. rotations.Select(r => RotateAsync(r.Token, r.Successor))];
            release();
            return Task.CompletedTask;
        });

        await Assert.ThrowsAsync<SqliteException>(() => pending[failing]);
        for (int i = 0; i < Rotations; i++)
        {
            if (i == failing)
                continue;
            Assert.Equal(RefreshConsumeStatus.Consumed, (await pending[i]).Status);
            Assert.NotNull(await Store.FindAsync(rotations[i].Successor.TokenHash, Ct));
        }

        Assert.Null((await Store.FindAsync(rotations[failing].Token.TokenHash, Ct))!.Token.SpentAt);
    }

    [Fact]
    public async Task Rotations_WhenTheDatabaseCannotBeReached_AllFailWithoutOneAttemptEach()
    {
        // A "PostgreSQL server" that takes the first connection and holds it for a moment without a word, so the other
        // rotations queue meanwhile, then hangs up on that and every later connection.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int connections = 0;
        Task server = Task.Run(async () =>
        {
            while (true)
            {
                using Socket socket = await listener.AcceptSocketAsync(Ct);
                if (Interlocked.Increment(ref connections) == 1)
                    await Task.Delay(300, Ct);
            }
        }, Ct);
        var database = new PostgresDatabase($"Host=127.0.0.1;Port={((IPEndPoint)listener.LocalEndpoint).Port};Database=latchkey;Username=latchkey");
        using var store = new SqlRefreshTokenStore(database);
        var family = new RefreshFamilyRecord("family-1", "user-1", "default", T0, T0.AddDays(90), RevokedAt: null);

        Task<RefreshConsumeResult>[] pending = [.. Enumerable.Range(0, Rotations).Select(i =>
            store.TryConsumeRefreshTokenAsync($"hash-{i}", Token(family, $"hash-{i}-next"), [1], T0.AddHours(1), TimeSpan.FromSeconds(10), Ct))];

        foreach (Task<RefreshConsumeResult> rotation in pending)
            Assert.True(database.IsUnavailable(await Assert.ThrowsAnyAsync<Exception>(() => rotation)));
        // One or two groups (the first rotation's, then one for the rest), each trying once; Npgsql opened up to two
        // connections per attempt here. Trying each rotation alone again made 42.
        Assert.InRange(connections, 1, 4);
        Assert.False(server.IsFaulted);
    }

    private async Task<(RefreshTokenRecord Token, RefreshTokenRecord Successor)[]> StartFamiliesAsync()
    {
        var rotations = new (RefreshTokenRecord, RefreshTokenRecord)[Rotations];
        for (int i = 0; i < Rotations; i++)
        {
            var family = new RefreshFamilyRecord($"family-{i}", "user-1", "default", T0, T0.AddDays(90), RevokedAt: null);
            RefreshTokenRecord token = Token(family, $"hash-{i}");
            await Store.AddFamilyAsync(family, token, Ct);
            rotations[i] = (token, Token(family, $"hash-{i}-next"));
        }

        return rotations;
    }

    private static RefreshTokenRecord Token(RefreshFamilyRecord family, string hash) =>
        new(hash, family.FamilyId, family.ClientId, family.UserId, "api", T0, T0.AddDays(14), SpentAt: null);

    private Task<RefreshConsumeResult> RotateAsync(RefreshTokenRecord token, RefreshTokenRecord successor) =>
        Store.TryConsumeRefreshTokenAsync(token.TokenHash, successor, [1, 2, 3], T0.AddHours(1), TimeSpan.FromSeconds(10), Ct);

    /// <summary>
    /// Holds SQLite's write lock on a connection of its own (writing nothing) until <paramref name="work"/> calls the
    /// release it is given, and returns how many transactions were committed meanwhile and until the work ended.
    /// </summary>
    private async Task<int> WhileAnotherWriterHoldsTheLockAsync(Func<Action, Task> work)
    {
        // This connection stays open throughout, so the WAL is not checkpointed away under the count.
        await using var connection = new SqliteConnection(Database.ConnectionString);
        await connection.OpenAsync(Ct);
        int before = CommitFrames(Database.Path + "-wal");
        await using (DbTransaction held = connection.BeginTransaction(deferred: false))
        {
            await work(() => held.Commit());
        }

        return CommitFrames(Database.Path + "-wal") - before;
    }

    /// <summary>The commit frames in a WAL file (https://sqlite.org/fileformat.html#walformat): one per committed transaction.</summary>
    private static int CommitFrames(string walPath)
    {
        byte[] wal;
        using (var file = new FileStream(walPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            wal = new byte[file.Length];
            file.ReadExactly(wal);
        }

        int pageSize = BinaryPrimitives.ReadInt32BigEndian(wal.AsSpan(8));
        ReadOnlySpan<byte> salts = wal.AsSpan(16, 8);
        int commits = 0;
        for (int frame = 32; frame + 24 + pageSize <= wal.Length; frame += 24 + pageSize)
        {
            // A frame with other salts is left over from before the WAL last started again from its beginning.
            if (!wal.AsSpan(frame + 8, 8).SequenceEqual(salts))
                break;
            // Bytes 4-7 of a frame's header: the database's size in pages after a commit, 0 in the other frames.
            if (BinaryPrimitives.ReadInt32BigEndian(wal.AsSpan(frame + 4)) != 0)
                commits++;
        }

        return commits;
    }
}
