using System.Net;
using System.Text;
using System.Text.Json;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Grants;

/// <summary>
/// Reuse detection without logging users out in a race (RFC 9700 §4.14.2): within the reuse window the same client
/// gets the same successor pair; after it, or with the window off, presenting a spent token revokes the family.
/// </summary>
public sealed class RefreshTokenReuseTests
{
    private const string Password = "correct horse battery";
    private const int Concurrency = 50;

    private static async Task<LatchkeyTestServer> StartAsync(TimeSpan reuseWindow)
    {
        LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.RefreshTokens.ReuseWindow = reuseWindow);
        await server.AddUserAsync("alice", Password);
        return server;
    }

    [Fact]
    public void Options_DefaultReuseWindow_IsTenSeconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), new RefreshTokenOptions().ReuseWindow);
        Assert.Equal(TimeSpan.FromDays(14), new RefreshTokenOptions().SlidingLifetime);
        Assert.Equal(TimeSpan.FromDays(90), new RefreshTokenOptions().AbsoluteLifetime);
    }

    [Fact]
    public async Task Reuse_WithinWindowBySameClient_ReturnsTheSamePair()
    {
        await using LatchkeyTestServer server = await StartAsync(TimeSpan.FromSeconds(10));
        (_, string refresh) = await server.LoginAsync("alice", Password);
        (string access1, string refresh1) = await OAuthRequests.PairAsync(await server.RefreshAsync(refresh));

        server.Time.Advance(TimeSpan.FromSeconds(9));
        (string access2, string refresh2) = await OAuthRequests.PairAsync(await server.RefreshAsync(refresh));

        Assert.Equal(access1, access2);
        Assert.Equal(refresh1, refresh2);
        // The successor is live: the family was not revoked by the retry.
        await OAuthRequests.PairAsync(await server.RefreshAsync(refresh1));
    }

    [Fact]
    public async Task Reuse_AfterWindow_RevokesTheWholeFamilyAndAudits()
    {
        await using LatchkeyTestServer server = await StartAsync(TimeSpan.FromSeconds(10));
        (_, string refresh) = await server.LoginAsync("alice", Password);
        (_, string successor) = await OAuthRequests.PairAsync(await server.RefreshAsync(refresh));

        server.Time.Advance(TimeSpan.FromSeconds(10));
        using HttpResponseMessage reuse = await server.RefreshAsync(refresh);

        await HttpAssert.OAuthErrorAsync(reuse, HttpStatusCode.BadRequest, "invalid_grant");
        using HttpResponseMessage successorAfter = await server.RefreshAsync(successor);
        await HttpAssert.OAuthErrorAsync(successorAfter, HttpStatusCode.BadRequest, "invalid_grant");
        IReadOnlyList<AuditEvent> events = await server.Services.GetRequiredService<IAuditLog>().ReadAsync(DateTimeOffset.MinValue, CancellationToken.None);
        AuditEvent reuseEvent = Assert.Single(events, e => e.Type == "refresh_reuse_detected");
        Assert.Equal("family_revoked", reuseEvent.Outcome);
        Assert.Equal("default", reuseEvent.ClientId);
        // Another login is a new family and unaffected.
        (_, string other) = await server.LoginAsync("alice", Password);
        await OAuthRequests.PairAsync(await server.RefreshAsync(other));
    }

    [Fact]
    public async Task Reuse_WindowOff_SecondPresentationRevokesTheFamily()
    {
        await using LatchkeyTestServer server = await StartAsync(TimeSpan.Zero);
        (_, string refresh) = await server.LoginAsync("alice", Password);
        (_, string successor) = await OAuthRequests.PairAsync(await server.RefreshAsync(refresh));

        using HttpResponseMessage reuse = await server.RefreshAsync(refresh);

        await HttpAssert.OAuthErrorAsync(reuse, HttpStatusCode.BadRequest, "invalid_grant");
        using HttpResponseMessage successorAfter = await server.RefreshAsync(successor);
        await HttpAssert.OAuthErrorAsync(successorAfter, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task SealedSuccessor_IsEncryptedAndDroppedAfterTheWindow()
    {
        await using LatchkeyTestServer server = await StartAsync(TimeSpan.FromSeconds(10));
        (_, string refresh) = await server.LoginAsync("alice", Password);
        (string access1, string refresh1) = await OAuthRequests.PairAsync(await server.RefreshAsync(refresh));

        byte[]? sealedBlob = await ReadSealedAsync(server, refresh);
        Assert.NotNull(sealedBlob);
        Assert.Equal(-1, sealedBlob.AsSpan().IndexOf(Encoding.ASCII.GetBytes(refresh1)));
        Assert.Equal(-1, sealedBlob.AsSpan().IndexOf(Encoding.ASCII.GetBytes(access1.Split('.')[2])));
        Assert.Equal(-1, sealedBlob.AsSpan().IndexOf("access_token"u8));

        server.Time.Advance(TimeSpan.FromSeconds(10));
        (_, string other) = await server.LoginAsync("alice", Password);
        await OAuthRequests.PairAsync(await server.RefreshAsync(other)); // any later refresh sweeps expired seals

        Assert.Null(await ReadSealedAsync(server, refresh));
    }

    [Fact]
    public async Task Concurrent50_WindowOn_AllGetTheSamePairAndOneSuccessorExists()
    {
        await using LatchkeyTestServer server = await StartAsync(TimeSpan.FromSeconds(10));
        (_, string refresh) = await server.LoginAsync("alice", Password);

        HttpResponseMessage[] responses = await RefreshConcurrentlyAsync(server, refresh);

        var pairs = new HashSet<(string, string)>();
        foreach (HttpResponseMessage response in responses)
            pairs.Add(await OAuthRequests.PairAsync(response));
        (string _, string successor) = Assert.Single(pairs);
        Assert.Equal(2, await CountFamilyTokensAsync(server, refresh));
        await OAuthRequests.PairAsync(await server.RefreshAsync(successor));
    }

    [Fact]
    public async Task Concurrent50_WindowOff_ExactlyOneWinsAndReuseRevokesItsSuccessor()
    {
        await using LatchkeyTestServer server = await StartAsync(TimeSpan.Zero);
        (_, string refresh) = await server.LoginAsync("alice", Password);

        HttpResponseMessage[] responses = await RefreshConcurrentlyAsync(server, refresh);

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(Concurrency - 1, responses.Count(r => r.StatusCode == HttpStatusCode.BadRequest));
        foreach (HttpResponseMessage failed in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
            await HttpAssert.OAuthErrorAsync(failed, HttpStatusCode.BadRequest, "invalid_grant");
        (_, string successor) = await OAuthRequests.PairAsync(responses.Single(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(2, await CountFamilyTokensAsync(server, refresh));
        using HttpResponseMessage after = await server.RefreshAsync(successor);
        await HttpAssert.OAuthErrorAsync(after, HttpStatusCode.BadRequest, "invalid_grant");
    }

    private static async Task<HttpResponseMessage[]> RefreshConcurrentlyAsync(LatchkeyTestServer server, string refresh)
    {
        // Separate connections, released together, so the requests really overlap at the server.
        HttpClient[] clients = Enumerable.Range(0, Concurrency).Select(_ => server.CreateClient()).ToArray();
        try
        {
            foreach (HttpClient client in clients)
                (await client.GetAsync("/healthz")).Dispose(); // open each connection first
            using var start = new ManualResetEventSlim(false);
            Task<HttpResponseMessage>[] tasks = clients.Select(client => Task.Run(() =>
            {
                start.Wait();
                return client.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["grant_type"] = "refresh_token",
                    ["refresh_token"] = refresh,
                }));
            })).ToArray();
            start.Set();
            return await Task.WhenAll(tasks);
        }
        finally
        {
            foreach (HttpClient client in clients)
                client.Dispose();
        }
    }

    private static async Task<long> CountFamilyTokensAsync(LatchkeyTestServer server, string refresh) =>
        Convert.ToInt64(await server.ScalarAsync(
            "SELECT COUNT(*) FROM refresh_tokens WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = @h)",
            ("h", Latchkey.Tokens.RefreshTokens.Hash(refresh))));

    private static async Task<byte[]?> ReadSealedAsync(LatchkeyTestServer server, string refresh) =>
        await server.ScalarAsync("SELECT sealed_successor FROM refresh_tokens WHERE token_hash = @h", ("h", Latchkey.Tokens.RefreshTokens.Hash(refresh))) as byte[];
}
