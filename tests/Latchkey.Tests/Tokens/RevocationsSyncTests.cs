using System.Net;
using Latchkey.Hosting;
using Latchkey.Storage;
using Latchkey.Tests.Support;
using Latchkey.Tokens;

namespace Latchkey.Tests.Tokens;

/// <summary>
/// Each node's copy of the revocations: loaded whole at start, then kept current by reading only what was recorded since its
/// last read (less an overlap for clocks), so a sync costs the churn, not the size of the table.
/// </summary>
public sealed class RevocationsSyncTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", Password);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpStatusCode> MeAsync(string token)
    {
        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", token);
        return response.StatusCode;
    }

    [Fact]
    public async Task Sync_ReadsOnlyWhatTheDatabaseRecordedSinceTheLastSync()
    {
        (string recent, _) = await _server.LoginAsync("alice", Password);
        (string old, _) = await _server.LoginAsync("alice", Password);
        var store = _server.Services.GetRequiredService<IRevocationStore>();
        var revocations = _server.Services.GetRequiredService<Revocations>();
        await revocations.SyncAsync(Ct);
        DateTimeOffset now = _server.Time.GetUtcNow();

        // Recorded elsewhere: one now; one as if recorded ten minutes ago, before this node's last sync (which did not see it:
        // the row is new). An incremental sync reads the first only.
        await store.AddAsync(new Revocation(RevocationKinds.AccessToken, Jti(recent), now, now.AddHours(1)), Ct);
        await store.AddAsync(new Revocation(RevocationKinds.AccessToken, Jti(old), now, now.AddHours(1)), Ct);
        await MoveRecordedAtAsync(Jti(old), TimeSpan.FromMinutes(-10));
        await revocations.SyncAsync(Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(recent));
        Assert.Equal(HttpStatusCode.OK, await MeAsync(old)); // not read: recorded before the last sync
        // A node starting now loads every live revocation, that one included.
        await using LatchkeyTestServer restarted = await LatchkeyTestServer.StartAsync(dataDirectory: _server.DataDirectory, time: _server.Time);
        using HttpResponseMessage onRestarted = await restarted.GetWithBearerAsync("/me", old);
        Assert.Equal(HttpStatusCode.Unauthorized, onRestarted.StatusCode);
    }

    [Fact]
    public async Task Sync_RevocationMadeByANodeWhoseClockIsBehind_IsStillRead()
    {
        // The revocation carries the maker's time, two minutes behind this node's: the database's clock decides what is new.
        (string token, _) = await _server.LoginAsync("alice", Password);
        var revocations = _server.Services.GetRequiredService<Revocations>();
        await revocations.SyncAsync(Ct);
        DateTimeOffset behind = _server.Time.GetUtcNow() - TimeSpan.FromMinutes(2);

        await _server.Services.GetRequiredService<IRevocationStore>().AddAsync(
            new Revocation(RevocationKinds.AccessToken, Jti(token), behind, behind.AddHours(1)), Ct);
        await revocations.SyncAsync(Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(token));
    }

    private static string Jti(string token) => HttpAssert.Part(token, 1).GetProperty("jti").GetString()!;

    private async Task MoveRecordedAtAsync(string id, TimeSpan by)
    {
        await using System.Data.Common.DbConnection connection = await _server.Services.GetRequiredService<Latchkey.Storage.Sql.SqlDatabase>().OpenAsync(Ct);
        await using System.Data.Common.DbCommand command = connection.CreateCommand();
        command.CommandText = $"UPDATE revocations SET recorded_at = recorded_at + ({(long)by.TotalMilliseconds}) WHERE id = '{id}'";
        await command.ExecuteNonQueryAsync(Ct);
    }

    [Fact]
    public async Task Housekeeping_PurgesExpiredRevocationsAndFamiliesAndNothingLive()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.RefreshTokens.SlidingLifetime = TimeSpan.FromHours(1);
            o.RefreshTokens.AbsoluteLifetime = TimeSpan.FromHours(2);
        });
        await server.AddUserAsync("alice", Password);
        (string access, string refresh) = await server.LoginAsync("alice", Password);
        await server.PostFormAsync("/revoke", new Dictionary<string, string> { ["token"] = access });
        var store = server.Services.GetRequiredService<IRevocationStore>();
        var families = server.Services.GetRequiredService<IRefreshTokenStore>();
        var housekeeping = server.Services.GetRequiredService<Housekeeping>();

        server.Time.Advance(TimeSpan.FromMinutes(30)); // the access token has not expired: nothing to delete yet
        await housekeeping.RunOnceAsync(Ct);
        Assert.Single((await store.ListRecordedSinceAsync(DateTimeOffset.MinValue, Ct)).Revocations);
        Assert.NotNull(await families.FindAsync(RefreshTokens.Hash(refresh), Ct));

        server.Time.Advance(TimeSpan.FromHours(2)); // past the token's expiry (and leeway) and the family's absolute lifetime
        await housekeeping.RunOnceAsync(Ct);

        Assert.Empty((await store.ListRecordedSinceAsync(DateTimeOffset.MinValue, Ct)).Revocations);
        Assert.Null(await families.FindAsync(RefreshTokens.Hash(refresh), Ct));
    }
}
