using System.Buffers.Binary;
using System.Data.Common;
using Latchkey.Storage;
using Latchkey.Storage.Sql;
using Latchkey.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Latchkey.Tests.Storage;

/// <summary>
/// Group commit of refresh-token rotations on SQLite (<see cref="RotationGroupCommit"/>). Rotations are queued while
/// another connection holds the write lock, so they are certain to wait together; the transactions they commit are
/// counted in the WAL file, where every committed transaction ends with one commit frame.
/// </summary>
public sealed class SqliteGroupCommitTests : IAsyncLifetime
{
    private const int Rotations = 20;
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_767_225_600_000);

    private readonly string _folder = Directory.CreateTempSubdirectory("latchkey-group-commit-").FullName;
    private readonly ServiceProvider _services;

    public SqliteGroupCommitTests()
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
