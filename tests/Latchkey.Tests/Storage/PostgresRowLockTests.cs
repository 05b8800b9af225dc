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
    /// Two reuse detections at once, in two families, each holding a row of the other family that its sweep of expired
    /// seals took: the first waits for its own family's row, the second for the row the first swept. Here the other
    /// transaction is played by hand: it holds family 1's spent token (as its sweep would), then clears family 2's.
    /// </summary>
    [Fact]
    public async Task Reuse_WhileAnotherTransactionSweepsThisFamilysSeal_IsDetectedWithoutDeadlock()
    {
        (RefreshFamilyRecord family1, RefreshTokenRecord token1) = await SpendAsync("family-1");
        (_, RefreshTokenRecord token2) = await SpendAsync("family-2");

        await using var other = new NpgsqlConnection(_database);
        await other.OpenAsync(Ct);
        await using NpgsqlTransaction transaction = await other.BeginTransactionAsync(Ct);
        await ExecuteAsync(other, transaction, "SELECT 1 FROM refresh_tokens WHERE token_hash = @h FOR UPDATE", token1.TokenHash);

        // After the window: family 1's token is presented again. Its sweep takes family 2's expired seal (family 1's is held).
        RefreshTokenRecord successor = Token(family1, T0.AddMinutes(1));
        Task<RefreshConsumeResult> reuse = RefreshTokens.TryConsumeRefreshTokenAsync(token1.TokenHash, successor, [1, 2, 3], T0.AddMinutes(1), Window, Ct);
        await WaitUntilAsync(async () => reuse.IsCompleted || await WaitingForRowsAsync() == 1);

        // The other transaction now clears family 2's seal, which the reuse detection swept. If the reuse detection also
        // waits for the other transaction's row, each waits for the other, and PostgreSQL aborts one after deadlock_timeout.
        Task clear = ExecuteAsync(other, transaction, "UPDATE refresh_tokens SET sealed_successor = NULL, sealed_until = NULL WHERE token_hash = @h", token2.TokenHash);
        RefreshConsumeResult result = await reuse;
        await clear;
        await transaction.CommitAsync(Ct);

        Assert.Equal(RefreshConsumeStatus.ReuseDetected, result.Status);
        Assert.NotNull((await RefreshTokens.FindAsync(token1.TokenHash, Ct))!.Family.RevokedAt);
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

    /// <summary>How many sessions of this database wait for a lock another transaction holds.</summary>
    private async Task<long> WaitingForRowsAsync()
    {
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", connection);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (!await condition())
            await Task.Delay(20, timeout.Token);
    }
}
