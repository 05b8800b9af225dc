using Latchkey.Storage;
using Latchkey.Storage.Sql;
using Latchkey.Testing;
using Npgsql;

namespace Latchkey.Tests.Storage;

/// <summary>
/// PostgreSQL locks rows, not the whole database as SQLite does: here another transaction holds rows a store wants, as a
/// concurrent request on another node would, and the store must neither fail nor deadlock.
/// </summary>
public sealed class PostgresRowLockTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_767_225_600_000);
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private string _database = null!;
    private ServiceProvider _services = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IRefreshTokenStore RefreshTokens => _services.GetRequiredService<IRefreshTokenStore>();

    public async ValueTask InitializeAsync()
    {
        _database = await PostgresCluster.CreateDatabaseAsync(Ct);
        var services = new ServiceCollection();
        services.AddOptions<LatchkeyOptions>().Configure(o => o.Database = _database);
        services.AddLatchkeyStorage();
        _services = services.BuildServiceProvider();
        await _services.GetRequiredService<SqlDatabase>().MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await PostgresCluster.DropDatabaseAsync(_database);
    }

    /// <summary>
    /// A reuse detection while another transaction holds one of the family's seals, as a sweep of expired seals
    /// (<see cref="IRefreshTokenStore.DropExpiredSealsAsync"/>) on another node would: the detection revokes the family
    /// and skips that row instead of waiting for it.
    /// </summary>
    [Fact]
    public async Task Reuse_WhileAnotherTransactionHoldsThisFamilysSeal_IsDetectedWithoutWaiting()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await SpendAsync("family-1");
        await using var other = new NpgsqlConnection(_database);
        await other.OpenAsync(Ct);
        await using NpgsqlTransaction transaction = await other.BeginTransactionAsync(Ct);
        await ExecuteAsync(other, transaction, "SELECT 1 FROM refresh_tokens WHERE token_hash = @h FOR UPDATE", token.TokenHash);

        // After the window: the spent token is presented again.
        Task<RefreshConsumeResult> reuse = RefreshTokens.TryConsumeRefreshTokenAsync(token.TokenHash, Token(family, T0.AddMinutes(1)), [1, 2, 3],
            T0.AddMinutes(1), Window, Ct);

        Assert.Same(reuse, await Task.WhenAny(reuse, Task.Delay(TimeSpan.FromSeconds(30), Ct)));
        Assert.Equal(RefreshConsumeStatus.ReuseDetected, (await reuse).Status);
        await transaction.CommitAsync(Ct);
        Assert.NotNull((await RefreshTokens.FindAsync(token.TokenHash, Ct))!.Family.RevokedAt);
    }

    /// <summary>A sweep of expired seals passes over a seal another transaction holds (a rotation, a revocation) instead of waiting.</summary>
    [Fact]
    public async Task DropExpiredSeals_WhileAnotherTransactionHoldsOne_SkipsItWithoutWaiting()
    {
        (_, RefreshTokenRecord held) = await SpendAsync("family-1");
        await SpendAsync("family-2");
        await using var other = new NpgsqlConnection(_database);
        await other.OpenAsync(Ct);
        await using NpgsqlTransaction transaction = await other.BeginTransactionAsync(Ct);
        await ExecuteAsync(other, transaction, "SELECT 1 FROM refresh_tokens WHERE token_hash = @h FOR UPDATE", held.TokenHash);

        Task<int> sweep = RefreshTokens.DropExpiredSealsAsync(T0 + Window, 100, Ct);

        Assert.Same(sweep, await Task.WhenAny(sweep, Task.Delay(TimeSpan.FromSeconds(30), Ct)));
        Assert.Equal(1, await sweep);
        await transaction.CommitAsync(Ct);
        Assert.Equal(1, await RefreshTokens.DropExpiredSealsAsync(T0 + Window, 100, Ct));
    }

    /// <summary>A family whose first token was spent at <see cref="T0"/>, its successor sealed until T0 + 10 s.</summary>
    private async Task<(RefreshFamilyRecord, RefreshTokenRecord)> SpendAsync(string familyId)
    {
        var family = new RefreshFamilyRecord(familyId, "user-1", "default", T0, T0.AddDays(90), RevokedAt: null);
        RefreshTokenRecord first = Token(family, T0);
        await RefreshTokens.AddFamilyAsync(family, first, Ct);
        RefreshConsumeResult consumed = await RefreshTokens.TryConsumeRefreshTokenAsync(first.TokenHash, Token(family, T0), [4, 5, 6], T0, Window, Ct);
        Assert.Equal(RefreshConsumeStatus.Consumed, consumed.Status);
        return (family, first);
    }

    private static RefreshTokenRecord Token(RefreshFamilyRecord family, DateTimeOffset at) =>
        new("hash-" + Guid.NewGuid().ToString("N"), family.FamilyId, family.ClientId, family.UserId, "api", at, at.AddDays(14), SpentAt: null);

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, string hash)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddWithValue("h", hash);
        await command.ExecuteNonQueryAsync(Ct);
    }
}
