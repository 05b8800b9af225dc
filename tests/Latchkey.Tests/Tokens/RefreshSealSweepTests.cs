using Latchkey.Storage;
using Latchkey.Tests.Support;
using Latchkey.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Latchkey.Tests.Tokens;

/// <summary>
/// Rotations clear expired sealed successors a batch at a time: at most once per <see cref="RefreshTokenFamilies.SealSweepInterval"/>,
/// and again at the next rotation while a batch comes back full.
/// </summary>
public sealed class RefreshSealSweepTests : IAsyncLifetime
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await LatchkeyTestServer.StartAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private IRefreshTokenStore Store => _server.Services.GetRequiredService<IRefreshTokenStore>();

    private RefreshTokenFamilies Sweeper => _server.Services.GetRequiredService<RefreshTokenFamilies>();

    [Fact]
    public async Task Sweep_AfterAFullBatch_RunsAgainAtOnce_AfterAPartialOne_WaitsForTheInterval()
    {
        DateTimeOffset now = _server.Time.GetUtcNow();
        await LeaveSealsAsync(RefreshTokenFamilies.SealSweepBatch + 1, at: now - Window); // all expired now

        await Sweeper.DropExpiredSealsIfDueAsync(Ct); // a full batch: more are waiting
        await Sweeper.DropExpiredSealsIfDueAsync(Ct); // so this one sweeps too, at the same instant, and clears the last
        Assert.Equal(0, await Store.DropExpiredSealsAsync(now, 1000, Ct));

        // That batch was not full: within the interval, nothing more is swept.
        await LeaveSealsAsync(1, at: now - Window);
        await Sweeper.DropExpiredSealsIfDueAsync(Ct);
        _server.Time.Advance(RefreshTokenFamilies.SealSweepInterval - TimeSpan.FromTicks(1));
        await Sweeper.DropExpiredSealsIfDueAsync(Ct);
        Assert.Equal(1, await Store.DropExpiredSealsAsync(now, 1000, Ct));

        // Once the interval has passed, it is.
        await LeaveSealsAsync(1, at: now - Window);
        _server.Time.Advance(TimeSpan.FromTicks(1));
        await Sweeper.DropExpiredSealsIfDueAsync(Ct);
        Assert.Equal(0, await Store.DropExpiredSealsAsync(now, 1000, Ct));
    }

    /// <summary>Rotates a fresh family <paramref name="count"/> times at <paramref name="at"/>, leaving one seal per rotation (until at + Window).</summary>
    private async Task LeaveSealsAsync(int count, DateTimeOffset at)
    {
        DateTimeOffset now = at;
        string familyId = "family-" + Guid.NewGuid().ToString("N");
        var family = new RefreshFamilyRecord(familyId, "user-1", "default", now, now.AddDays(90), RevokedAt: null);
        RefreshTokenRecord token = Token(family, now);
        await Store.AddFamilyAsync(family, token, Ct);
        for (int i = 0; i < count; i++)
        {
            RefreshTokenRecord successor = Token(family, now);
            RefreshConsumeResult result = await Store.TryConsumeRefreshTokenAsync(token.TokenHash, successor, [1, 2, 3], now, Window, Ct);
            Assert.Equal(RefreshConsumeStatus.Consumed, result.Status);
            token = successor;
        }
    }

    private static RefreshTokenRecord Token(RefreshFamilyRecord family, DateTimeOffset at) =>
        new("hash-" + Guid.NewGuid().ToString("N"), family.FamilyId, family.ClientId, family.UserId, "api", at, at.AddDays(14), SpentAt: null);
}
