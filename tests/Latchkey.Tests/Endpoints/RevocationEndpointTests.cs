using System.Net;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>POST /revoke (RFC 7009): what it revokes, for whom, and that it always answers 200.</summary>
public sealed class RevocationEndpointTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", Password);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private Task<HttpResponseMessage> RevokeAsync(string token, string? hint = null, (string, string)? basic = null)
    {
        var form = new Dictionary<string, string> { ["token"] = token };
        if (hint is not null)
            form["token_type_hint"] = hint;
        return _server.PostFormAsync("/revoke", form, basic);
    }

    [Fact]
    public async Task Revoke_RefreshToken_RevokesItsWholeFamily()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);
        (_, string successor) = await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));

        using HttpResponseMessage response = await RevokeAsync(refresh, "refresh_token");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(successor), HttpStatusCode.BadRequest, "invalid_grant");
        IReadOnlyList<AuditEvent> events = await _server.Services.GetRequiredService<IAuditLog>().ReadAsync(DateTimeOffset.MinValue, CancellationToken.None);
        Assert.Contains(events, e => e.Type == "token_revoked");
    }

    [Fact]
    public async Task Revoke_AccessToken_IsRefusedByMeUntilItWouldHaveExpired()
    {
        (string access, _) = await _server.LoginAsync("alice", Password);
        Assert.Equal(HttpStatusCode.OK, (await _server.GetWithBearerAsync("/me", access)).StatusCode);

        using HttpResponseMessage response = await RevokeAsync(access, "access_token");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using HttpResponseMessage me = await _server.GetWithBearerAsync("/me", access);
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        Assert.Contains(_server.Logs, l => l.Contains("Bearer token refused: Revoked"));
    }

    [Fact]
    public async Task Revoke_AccessToken_DenyListEntryEndsWithTheToken()
    {
        (string access, _) = await _server.LoginAsync("alice", Password);
        string jti = HttpAssert.Part(access, 1).GetProperty("jti").GetString()!;
        await RevokeAsync(access);
        var revocations = _server.Services.GetRequiredService<IRevocationStore>();
        async Task<bool> RevokedAsync() => (await revocations.ListLiveAsync(_server.Time.GetUtcNow(), CancellationToken.None)).Revocations
            .Any(r => r.Kind == RevocationKinds.AccessToken && r.Id == jti);

        // exp is 30 min away; the entry is kept through the validator's 30 s of leeway, then dropped.
        _server.Time.Advance(TimeSpan.FromMinutes(30) + TimeSpan.FromSeconds(29));
        Assert.True(await RevokedAsync());
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(await RevokedAsync());
    }

    [Fact]
    public async Task Revoke_WrongHint_StillFindsTheToken()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);

        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(refresh, "access_token")).StatusCode);

        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(refresh), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("lk_rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.")]
    public async Task Revoke_UnknownToken_Answers200(string token)
    {
        using HttpResponseMessage response = await RevokeAsync(token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Revoke_AlreadyRevoked_Answers200Again()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);

        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(refresh)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(refresh)).StatusCode);
    }

    [Fact]
    public async Task Revoke_TokenOfAnotherClient_Answers200AndLeavesItAlone()
    {
        string secret = await _server.AddClientAsync("web", ["password", "refresh_token"]);
        (string access, string refresh) = await _server.LoginAsync("alice", Password);

        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(refresh, basic: ("web", secret))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(access, basic: ("web", secret))).StatusCode);

        await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));
        Assert.Equal(HttpStatusCode.OK, (await _server.GetWithBearerAsync("/me", access)).StatusCode);
    }

    [Fact]
    public async Task Revoke_RegisteredClientsToken_NeedsThatClientsCredentials()
    {
        string secret = await _server.AddClientAsync("web", ["password", "refresh_token"]);
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "alice", ["password"] = Password };
        (_, string refresh) = await OAuthRequests.PairAsync(await _server.PostFormAsync("/token", form, basic: ("web", secret)));

        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(refresh)).StatusCode); // as the first-party client: not its token
        await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh, basic: ("web", secret)));

        (_, refresh) = await OAuthRequests.PairAsync(await _server.PostFormAsync("/token", form, basic: ("web", secret)));
        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(refresh, basic: ("web", secret))).StatusCode);
        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(refresh, basic: ("web", secret)), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Revoke_UnknownHint_UnsupportedTokenType()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);

        using HttpResponseMessage response = await RevokeAsync(refresh, "id_token");

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unsupported_token_type");
        await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));
    }

    [Fact]
    public async Task Revoke_MissingToken_InvalidRequest()
    {
        using HttpResponseMessage response = await _server.PostFormAsync("/revoke", new Dictionary<string, string>());

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Revoke_WrongClientSecret_InvalidClient()
    {
        await _server.AddClientAsync("web", ["password"]);

        using HttpResponseMessage response = await RevokeAsync("whatever", basic: ("web", "lk_cs_wrong"));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task DisablingAUser_RevokesTheirRefreshFamilies()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);
        var accounts = _server.Services.GetRequiredService<Latchkey.Accounts.UserAccounts>();

        await accounts.SetDisabledAsync("alice", true, "test", CancellationToken.None);

        var lookup = await _server.Services.GetRequiredService<IRefreshTokenStore>().FindAsync(Latchkey.Tokens.RefreshTokens.Hash(refresh), CancellationToken.None);
        Assert.NotNull(lookup!.Family.RevokedAt);
    }
}
