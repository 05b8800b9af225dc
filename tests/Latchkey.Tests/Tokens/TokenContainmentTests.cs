using System.Net;
using System.Text.Json;
using Latchkey.Accounts;
using Latchkey.Audit;
using Latchkey.Clients;
using Latchkey.Keys;
using Latchkey.Storage;
using Latchkey.Tests.Support;
using Latchkey.Tokens;

namespace Latchkey.Tests.Tokens;

/// <summary>
/// Tokens die with what they came from: a login (its refresh family, through /revoke or reuse), a user (disable, role or
/// password change, logout), a client (disable, removal), a key (revocation). Latchkey's own endpoints refuse them at once
/// on the node that made the change, and on another node from its next sync of the revocations.
/// </summary>
public sealed class TokenContainmentTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;
    private string _gatewaySecret = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("root", Password, "admin");
        await _server.AddUserAsync("alice", Password);
        _gatewaySecret = await _server.AddClientAsync("gateway", ["client_credentials"], introspection: "any");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpStatusCode> MeAsync(string token)
    {
        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", token);
        return response.StatusCode;
    }

    private async Task<bool> ActiveAsync(string token)
    {
        using HttpResponseMessage response = await _server.PostFormAsync("/introspect", new Dictionary<string, string> { ["token"] = token },
            basic: ("gateway", _gatewaySecret));
        return (await HttpAssert.OkJsonAsync(response)).GetProperty("active").GetBoolean();
    }

    private async Task AssertRefusedAsync(string token)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(token));
        using (HttpResponseMessage userinfo = await _server.GetWithBearerAsync("/userinfo", token))
            Assert.Equal(HttpStatusCode.Unauthorized, userinfo.StatusCode);
        Assert.False(await ActiveAsync(token));
    }

    [Fact]
    public async Task Logout_ThroughRevokeOfTheRefreshToken_ThatLoginsAccessTokensAreRefusedOthersAreNot()
    {
        (string access, string refresh) = await _server.LoginAsync("alice", Password);
        (string otherLogin, _) = await _server.LoginAsync("alice", Password);
        Assert.Equal(HttpStatusCode.OK, await MeAsync(access));
        Assert.Equal(HttpAssert.Part(access, 1).GetProperty("sid").GetString(), (await _server.Services.GetRequiredService<IRefreshTokenStore>()
            .FindAsync(RefreshTokens.Hash(refresh), Ct))!.Family.FamilyId);

        using (HttpResponseMessage revoke = await _server.PostFormAsync("/revoke", new Dictionary<string, string> { ["token"] = refresh }))
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);

        await AssertRefusedAsync(access);
        Assert.Equal(HttpStatusCode.OK, await MeAsync(otherLogin));
        Assert.True(await ActiveAsync(otherLogin));
    }

    [Fact]
    public async Task RefreshReuse_TheWholeLoginsAccessTokensAreRefused()
    {
        (string first, string refresh) = await _server.LoginAsync("alice", Password);
        (string second, _) = await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));
        _server.Time.Advance(TimeSpan.FromSeconds(11)); // past the reuse window

        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(refresh), HttpStatusCode.BadRequest, "invalid_grant");

        await AssertRefusedAsync(first);
        await AssertRefusedAsync(second);
    }

    public static TheoryData<string> UserCutOffs => ["disable", "roles", "password", "logout"];

    [Theory]
    [MemberData(nameof(UserCutOffs))]
    public async Task UserCutOff_ThroughTheAdminApi_TokensIssuedBeforeAreRefusedAndTheirLoginsEnd(string change)
    {
        (string access, string refresh) = await _server.LoginAsync("alice", Password);
        string admin = await _server.GetAdminTokenAsync("root", Password);
        _server.Time.Advance(TimeSpan.FromMilliseconds(1));
        (string path, string? json) = change switch
        {
            "roles" => ("/admin/users/alice/roles", """{"add": ["ops"]}"""),
            "password" => ("/admin/users/alice/password", """{"password": "a new password here"}"""),
            _ => ($"/admin/users/alice/{change}", (string?)null),
        };

        using (HttpResponseMessage response = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, path, admin, json))
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));

        await AssertRefusedAsync(access);
        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(refresh), HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Equal(HttpStatusCode.OK, await MeAsync(admin)); // another user's tokens are not touched
        UserRecord alice = (await _server.Services.GetRequiredService<IUserStore>().FindByUsernameAsync("alice", Ct))!;
        Assert.Equal(_server.Time.GetUtcNow().ToUnixTimeMilliseconds(), alice.TokensValidAfter?.ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task UsersLogout_ThenANewLogin_TheNewTokensWork()
    {
        (string before, _) = await _server.LoginAsync("alice", Password);
        _server.Time.Advance(TimeSpan.FromMilliseconds(1));
        AccountResult result = await _server.Services.GetRequiredService<UserAccounts>().LogoutAsync("alice", "cli", Ct);
        Assert.True(result.Succeeded);

        // A cut-off refuses tokens issued at or before it, to the millisecond (the jti's UUIDv7 time): a login a millisecond later is fine.
        _server.Time.Advance(TimeSpan.FromMilliseconds(1));
        (string after, string refresh) = await _server.LoginAsync("alice", Password);

        await AssertRefusedAsync(before);
        Assert.Equal(HttpStatusCode.OK, await MeAsync(after));
        Assert.True(await ActiveAsync(after));
        await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));
        AuditEvent cut = Assert.Single(await _server.Services.GetRequiredService<IAuditLog>().ReadAsync(DateTimeOffset.MinValue, Ct), e => e.Type == AuditEvents.TokensCutOff);
        Assert.Equal(("cli", "alice"), (cut.Actor, cut.Subject));
        Assert.Single(await _server.Services.GetRequiredService<IAuditLog>().ReadAsync(DateTimeOffset.MinValue, Ct), e => e.Type == AuditEvents.UserLoggedOut);
    }

    [Fact]
    public async Task UsersLogout_UnknownUser_NotFoundAndNothingCut()
    {
        AccountResult result = await _server.Services.GetRequiredService<UserAccounts>().LogoutAsync("mallory", "cli", Ct);

        Assert.Equal(ChangeFailure.NotFound, result.Failure);
        Assert.Empty((await _server.Services.GetRequiredService<IRevocationStore>().ListLiveAsync(_server.Time.GetUtcNow(), Ct)).Revocations);
    }

    [Fact]
    public async Task ClientDisabled_ItsTokensAreRefusedAtIntrospectionAndTheyStayRefusedOnceEnabled()
    {
        string secret = await _server.AddClientAsync("reports", ["client_credentials"]);
        using HttpResponseMessage issued = await AdminHttp.ClientCredentialsAsync(_server.Client, "reports", secret);
        string token = (await HttpAssert.OkJsonAsync(issued)).GetProperty("access_token").GetString()!;
        Assert.True(await ActiveAsync(token));
        _server.Time.Advance(TimeSpan.FromMilliseconds(1));

        var clients = _server.Services.GetRequiredService<ClientAccounts>();
        await clients.SetDisabledAsync("reports", true, "cli", Ct);
        Assert.False(await ActiveAsync(token));
        await clients.SetDisabledAsync("reports", false, "cli", Ct);

        Assert.False(await ActiveAsync(token));
        _server.Time.Advance(TimeSpan.FromMilliseconds(1));
        using HttpResponseMessage fresh = await AdminHttp.ClientCredentialsAsync(_server.Client, "reports", secret);
        Assert.True(await ActiveAsync((await HttpAssert.OkJsonAsync(fresh)).GetProperty("access_token").GetString()!));
    }

    [Fact]
    public async Task CutOffOnAnotherNode_HonouredFromThisNodesNextSyncOfTheRevocations()
    {
        // Two nodes on one data folder: what the CLI or another node changes reaches this one by its revocation sync.
        await using LatchkeyTestServer nodeB = await LatchkeyTestServer.StartAsync(dataDirectory: _server.DataDirectory, time: _server.Time);
        (string access, _) = await _server.LoginAsync("alice", Password);
        _server.Time.Advance(TimeSpan.FromMilliseconds(1));
        using (HttpResponseMessage onB = await nodeB.GetWithBearerAsync("/me", access))
            Assert.Equal(HttpStatusCode.OK, onB.StatusCode);

        await _server.Services.GetRequiredService<UserAccounts>().SetDisabledAsync("alice", true, "cli", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(access)); // at once on the node that made the change
        await nodeB.Services.GetRequiredService<Revocations>().SyncAsync(Ct);

        using HttpResponseMessage afterSync = await nodeB.GetWithBearerAsync("/me", access);
        Assert.Equal(HttpStatusCode.Unauthorized, afterSync.StatusCode);
    }

    [Fact]
    public async Task JwtIds_AreUuidV7CarryingTheIssueTimeToTheMillisecond()
    {
        _server.Time.Advance(TimeSpan.FromMilliseconds(123));
        (string access, _) = await _server.LoginAsync("alice", Password);

        string jti = HttpAssert.Part(access, 1).GetProperty("jti").GetString()!;

        Assert.True(Guid.TryParseExact(jti, "D", out Guid id));
        Assert.Equal(7, id.Version);
        Assert.True(JwtIds.TryReadIssuedAt(jti, out long issuedAt));
        Assert.Equal(_server.Time.GetUtcNow().ToUnixTimeMilliseconds(), issuedAt);
        Assert.NotEqual(jti, HttpAssert.Part((await _server.LoginAsync("alice", Password)).Access, 1).GetProperty("jti").GetString());
    }

    [Fact]
    public async Task CutOff_AtTheSameMillisecondAsTheToken_RefusesItAndTheNextMillisecondDoesNot()
    {
        (string atTheCut, _) = await _server.LoginAsync("alice", Password);
        await _server.Services.GetRequiredService<UserAccounts>().LogoutAsync("alice", "cli", Ct);
        _server.Time.Advance(TimeSpan.FromMilliseconds(1));
        (string after, _) = await _server.LoginAsync("alice", Password);

        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(atTheCut));
        Assert.Equal(HttpStatusCode.OK, await MeAsync(after));
    }
}

/// <summary>A leaked key revoked: it stops signing and leaves the JWKS at once, every token it signed is refused, another key signs.</summary>
public sealed class KeyRevocationTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("root", Password, "admin");
        await _server.AddUserAsync("alice", Password);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Kid(string token) => HttpAssert.Part(token, 0).GetProperty("kid").GetString()!;

    private async Task<string[]> PublishedKidsAsync()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/.well-known/jwks.json", Ct);
        return (await HttpAssert.OkJsonAsync(response)).GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!).ToArray();
    }

    [Fact]
    public async Task RotateThroughTheAdminApi_ByPurpose_TheIdTokenKeyIsRs256Only()
    {
        string admin = await _server.GetAdminTokenAsync("root", Password);

        using HttpResponseMessage idToken = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, "/admin/keys/rotate", admin, """{"purpose": "id_token"}""");
        using HttpResponseMessage access = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, "/admin/keys/rotate", admin);
        using HttpResponseMessage wrongAlgorithm = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, "/admin/keys/rotate", admin,
            """{"purpose": "id_token", "algorithm": "ES256"}""");
        using HttpResponseMessage unknownPurpose = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, "/admin/keys/rotate", admin, """{"purpose": "refresh"}""");

        JsonElement added = await AdminHttp.JsonAsync(idToken, HttpStatusCode.OK);
        Assert.Equal(("RS256", "id_token", "pending"), (added.GetProperty("algorithm").GetString(), added.GetProperty("purpose").GetString(), added.GetProperty("state").GetString()));
        JsonElement addedAccess = await AdminHttp.JsonAsync(access, HttpStatusCode.OK);
        Assert.Equal(("ES256", "access_token"), (addedAccess.GetProperty("algorithm").GetString(), addedAccess.GetProperty("purpose").GetString()));
        Assert.Contains("RS256 only", await AdminHttp.ProblemAsync(wrongAlgorithm, HttpStatusCode.BadRequest));
        Assert.Contains("not a key purpose", await AdminHttp.ProblemAsync(unknownPurpose, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task RevokeTheSigningKey_ThroughTheAdminApi_ItsTokensRefusedItLeavesTheJwksAndANewKeySignsAtOnce()
    {
        string admin = await _server.GetAdminTokenAsync("root", Password);
        (string signedByLeaked, _) = await _server.LoginAsync("alice", Password);
        string leaked = Kid(signedByLeaked);

        using (HttpResponseMessage response = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, $"/admin/keys/{leaked}/revoke", admin))
        {
            JsonElement keys = await AdminHttp.JsonAsync(response, HttpStatusCode.OK);
            Assert.Equal("revoked", keys.EnumerateArray().Single(k => k.GetProperty("kid").GetString() == leaked).GetProperty("state").GetString());
        }

        Assert.DoesNotContain(leaked, await PublishedKidsAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.GetWithBearerAsync("/me", signedByLeaked)).StatusCode);
        // The admin's own token was signed by it too.
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.GetWithBearerAsync("/me", admin)).StatusCode);
        (string fresh, _) = await _server.LoginAsync("alice", Password);
        Assert.NotEqual(leaked, Kid(fresh));
        Assert.Contains(Kid(fresh), await PublishedKidsAsync());
        Assert.Equal(HttpStatusCode.OK, (await _server.GetWithBearerAsync("/me", fresh)).StatusCode);
        AuditEvent revoked = Assert.Single(await _server.Services.GetRequiredService<IAuditLog>().ReadAsync(DateTimeOffset.MinValue, Ct),
            e => e.Type == AuditEvents.KeyRevoked);
        Assert.Equal("root", revoked.Actor);
        Assert.StartsWith(leaked, revoked.Detail);
    }

    [Fact]
    public async Task RevokeTheSigningKey_WithAPendingKey_ThePendingKeySignsFromNow()
    {
        (string before, _) = await _server.LoginAsync("alice", Password);
        var rotation = _server.Services.GetRequiredService<KeyRotation>();
        SigningKeyInfo pending = await rotation.RotateAsync(null, "cli", Ct);
        await _server.Services.GetRequiredService<SigningKeyRing>().RefreshAsync(Ct);

        (KeyRevocation? result, string? error) = await rotation.RevokeAsync(Kid(before), "cli", Ct);
        Assert.Null(error);
        Assert.Equal(new KeyRevocation(Kid(before), pending.KeyId, Unannounced: false), result);
        await _server.Services.GetRequiredService<SigningKeyRing>().RefreshAsync(Ct);

        (string after, _) = await _server.LoginAsync("alice", Password);
        Assert.Equal(pending.KeyId, Kid(after));
        // The access tokens' keys: the pending one only (the id tokens' key is published beside it, untouched).
        string idKid = _server.Services.GetRequiredService<SigningKeyRing>().IdTokenSigner.KeyId;
        Assert.Equal(new[] { pending.KeyId, idKid }.Order(), (await PublishedKidsAsync()).Order());
    }

    [Fact]
    public async Task RevokeThroughTheCli_ARunningServerDropsTheKeyAtItsNextRevocationSync()
    {
        (string token, _) = await _server.LoginAsync("alice", Password);
        // The CLI's own services: the server hears of the revocation only through the database.
        var services = new ServiceCollection();
        services.AddOptions<LatchkeyOptions>().Configure(o =>
        {
            o.DataDirectory = _server.DataDirectory;
            o.Issuer = LatchkeyTestServer.Issuer;
#if LATCHKEY_POSTGRES
            LatchkeyOptions server = _server.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<LatchkeyOptions>>().Value;
            o.Database = server.Database;
            o.MasterKey = server.MasterKey;
#endif
        });
        services.AddLogging();
        services.AddLatchkeyCore();
        await using (ServiceProvider cli = services.BuildServiceProvider())
            Assert.Null((await cli.GetRequiredService<KeyRotation>().RevokeAsync(Kid(token), "cli", Ct)).Error);
        Assert.Equal(HttpStatusCode.OK, (await _server.GetWithBearerAsync("/me", token)).StatusCode); // not synced yet

        await _server.Services.GetRequiredService<Revocations>().SyncAsync(Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.GetWithBearerAsync("/me", token)).StatusCode);
        Assert.DoesNotContain(Kid(token), await PublishedKidsAsync());
        (string fresh, _) = await _server.LoginAsync("alice", Password);
        Assert.Equal(HttpStatusCode.OK, (await _server.GetWithBearerAsync("/me", fresh)).StatusCode);
    }

    [Fact]
    public async Task RevokeUnknownOrTwice_RefusedSayingWhy()
    {
        (string token, _) = await _server.LoginAsync("alice", Password);
        var rotation = _server.Services.GetRequiredService<KeyRotation>();

        Assert.Contains("No signing key", (await rotation.RevokeAsync("no-such-kid", "cli", Ct)).Error);
        Assert.Null((await rotation.RevokeAsync(Kid(token), "cli", Ct)).Error);
        Assert.Contains("revoked already", (await rotation.RevokeAsync(Kid(token), "cli", Ct)).Error);
    }
}
