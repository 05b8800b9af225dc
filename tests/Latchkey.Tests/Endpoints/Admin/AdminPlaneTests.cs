using System.Net;
using System.Text.Json;
using Latchkey.Accounts;
using Latchkey.Keys;
using Latchkey.Protocol;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints.Admin;

/// <summary>
/// The admin plane apart from the APIs: /admin opens only to a token requested with scope latchkey:admin (whose audience is
/// Latchkey alone), held by an account that is an enabled admin now. Each attack of the containment issue, over real HTTP.
/// </summary>
public sealed class AdminPlaneTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("root", Password, "admin");
        await _server.AddUserAsync("alice", Password, "billing");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private UserAccounts Accounts => _server.Services.GetRequiredService<UserAccounts>();

    private Task<HttpResponseMessage> AdminAsync(string token, HttpMethod method, string path, string? json = null) =>
        AdminHttp.SendAsync(_server.Client, method, path, token, json);

    private static async Task AssertInsufficientScopeAsync(HttpResponseMessage response)
    {
        await AdminHttp.ProblemAsync(response, HttpStatusCode.Forbidden);
        string challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.StartsWith("Bearer ", challenge);
        Assert.Contains("error=\"insufficient_scope\"", challenge);
        Assert.Contains("scope=\"latchkey:admin\"", challenge);
    }

    [Fact]
    public async Task DisabledAdmin_OldTokenOnAdmin_401AndSheCannotReEnableHerselfOrMakeAnAdmin()
    {
        string token = await _server.GetAdminTokenAsync("root", Password);
        _server.Time.Advance(TimeSpan.FromMilliseconds(1));
        await Accounts.SetDisabledAsync("root", true, "cli", Ct);
        await Accounts.ChangeRolesAsync("root", [], ["admin"], "cli", Ct);

        using (HttpResponseMessage list = await AdminAsync(token, HttpMethod.Get, "/admin/users"))
            Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
        using (HttpResponseMessage enable = await AdminAsync(token, HttpMethod.Post, "/admin/users/root/enable"))
            Assert.Equal(HttpStatusCode.Unauthorized, enable.StatusCode);
        using (HttpResponseMessage roles = await AdminAsync(token, HttpMethod.Post, "/admin/users/root/roles", """{"add": ["admin"]}"""))
            Assert.Equal(HttpStatusCode.Unauthorized, roles.StatusCode);
        using (HttpResponseMessage create = await AdminAsync(token, HttpMethod.Post, "/admin/users", """{"username": "eve", "password": "long enough password", "roles": ["admin"]}"""))
            Assert.Equal(HttpStatusCode.Unauthorized, create.StatusCode);

        UserRecord root = (await _server.Services.GetRequiredService<IUserStore>().FindByUsernameAsync("root", Ct))!;
        Assert.True(root.Disabled);
        Assert.Empty(root.Roles);
        Assert.Null(await _server.Services.GetRequiredService<IUserStore>().FindByUsernameAsync("eve", Ct));
    }

    [Fact]
    public async Task AdminsTokenForTheApiAudience_OnAdmin_403InsufficientScope()
    {
        // The token every resource server receives: any API that ever saw it could otherwise replay it here.
        string apiToken = await _server.GetAccessTokenAsync("root", Password);
        Assert.Equal("api", HttpAssert.Part(apiToken, 1).GetProperty("aud").GetString());

        using HttpResponseMessage response = await AdminAsync(apiToken, HttpMethod.Get, "/admin/users");

        await AssertInsufficientScopeAsync(response);
    }

    [Fact]
    public async Task ThirdPartyClientTokenWithScopeRead_OnAdmin_403InsufficientScope()
    {
        string secret = await _server.AddClientAsync("third-party", ["client_credentials"], ["read"]);
        using HttpResponseMessage issued = await AdminHttp.ClientCredentialsAsync(_server.Client, "third-party", secret, "read");
        string token = (await HttpAssert.OkJsonAsync(issued)).GetProperty("access_token").GetString()!;

        using HttpResponseMessage response = await AdminAsync(token, HttpMethod.Get, "/admin/clients");

        await AssertInsufficientScopeAsync(response);
    }

    [Fact]
    public async Task AdminScope_ForAnAdmin_TokenForLatchkeyAloneThatOpensAdminAndMe()
    {
        string token = await _server.GetAdminTokenAsync("root", Password);

        JsonElement claims = HttpAssert.Part(token, 1);
        Assert.Equal(JsonValueKind.String, claims.GetProperty("aud").ValueKind);
        Assert.Equal(LatchkeyTestServer.Issuer, claims.GetProperty("aud").GetString());
        Assert.Equal("latchkey:admin", claims.GetProperty("scope").GetString());
        using (HttpResponseMessage users = await AdminAsync(token, HttpMethod.Get, "/admin/users"))
            await HttpAssert.OkJsonAsync(users);
        using (HttpResponseMessage me = await _server.GetWithBearerAsync("/me", token))
            await HttpAssert.OkJsonAsync(me);
    }

    [Fact]
    public async Task AdminScope_RefreshedLogin_StaysAnAdminToken()
    {
        using HttpResponseMessage login = await _server.PostTokenAsync("root", Password, Scopes.Admin);
        (_, string refresh) = await OAuthRequests.PairAsync(login);

        (string access, _) = await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));

        Assert.Equal(LatchkeyTestServer.Issuer, HttpAssert.Part(access, 1).GetProperty("aud").GetString());
        using HttpResponseMessage users = await AdminAsync(access, HttpMethod.Get, "/admin/users");
        await HttpAssert.OkJsonAsync(users);
    }

    [Theory]
    [InlineData("alice", "latchkey:admin")] // not an admin
    [InlineData("root", "latchkey:admin api")] // never together with other scopes
    public async Task AdminScope_RefusedRequests_InvalidScope(string username, string scope)
    {
        using HttpResponseMessage response = await _server.PostTokenAsync(username, Password, scope);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Fact]
    public async Task AdminScope_ClientNotAllowedIt_InvalidScope()
    {
        string secret = await _server.AddClientAsync("web", ["password"], ["api"]);
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "root", ["password"] = Password, ["scope"] = Scopes.Admin };

        using HttpResponseMessage response = await _server.PostFormAsync("/token", form, basic: ("web", secret));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Fact]
    public async Task AdminScope_ClientGrantedIt_IssuesForAnAdminButNeverAsTheClientsOwn()
    {
        string secret = await _server.AddClientAsync("console", ["password", "client_credentials"], [Scopes.Admin]);
        var password = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "root", ["password"] = Password, ["scope"] = Scopes.Admin };
        using (HttpResponseMessage response = await _server.PostFormAsync("/token", password, basic: ("console", secret)))
            Assert.Equal(LatchkeyTestServer.Issuer, HttpAssert.Part((await HttpAssert.OkJsonAsync(response)).GetProperty("access_token").GetString()!, 1).GetProperty("aud").GetString());

        // A client's own token has no account behind it to re-check: never an admin token.
        using HttpResponseMessage own = await AdminHttp.ClientCredentialsAsync(_server.Client, "console", secret, Scopes.Admin);
        await HttpAssert.OAuthErrorAsync(own, HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Fact]
    public async Task AccountNoLongerAdmin_ChangedWithoutCuttingItsTokens_RefusedOnceTheAccountCacheHasPassed()
    {
        // As a change made on another node is seen before that node's revocations are synced: the account itself is re-read.
        string token = await _server.GetAdminTokenAsync("root", Password);
        using (HttpResponseMessage first = await AdminAsync(token, HttpMethod.Get, "/admin/users"))
            await HttpAssert.OkJsonAsync(first);
        await _server.Services.GetRequiredService<IUserStore>().UpdateAsync("root", u => u with { Roles = [] }, null, Ct);

        _server.Time.Advance(TimeSpan.FromSeconds(2));
        using HttpResponseMessage response = await AdminAsync(token, HttpMethod.Get, "/admin/users");

        Assert.Contains("no longer an enabled admin", await AdminHttp.ProblemAsync(response, HttpStatusCode.Forbidden));
    }

    [Fact]
    public async Task AccountDisabledWithoutCuttingItsTokens_RefusedOnceTheAccountCacheHasPassed()
    {
        string token = await _server.GetAdminTokenAsync("root", Password);
        await _server.Services.GetRequiredService<IUserStore>().UpdateAsync("root", u => u with { Disabled = true }, null, Ct);

        using HttpResponseMessage response = await AdminAsync(token, HttpMethod.Get, "/admin/users");

        Assert.Contains("no longer an enabled admin", await AdminHttp.ProblemAsync(response, HttpStatusCode.Forbidden));
    }

    [Fact]
    public async Task Discovery_ListsTheAdminScope()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/.well-known/oauth-authorization-server", Ct);

        Assert.Contains("latchkey:admin", (await HttpAssert.OkJsonAsync(response)).GetProperty("scopes_supported").EnumerateArray().Select(s => s.GetString()));
    }
}

/// <summary>With a shared HMAC secret every verifier could mint an admin token: the admin API then stays closed (the CLI works).</summary>
public sealed class AdminPlaneHmacTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private const string Secret = "a shared secret of at least 32 bytes!!";
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        SecretsSeen.Record(Secret, "the HMAC secret");
        _server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.SigningAlgorithm = "HS256";
            o.HmacSecret = Secret;
        });
        await _server.AddUserAsync("root", Password, "admin");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task AdminScope_RequestedWithHmac_InvalidScopeSayingToUseTheCommandLine()
    {
        using HttpResponseMessage response = await _server.PostTokenAsync("root", Password, Scopes.Admin);

        JsonElement error = await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_scope");
        Assert.Contains("command line", error.GetProperty("error_description").GetString());
    }

    [Fact]
    public async Task ForgedHmacAdminToken_SignedWithTheSharedSecret_403()
    {
        // What any API holding the secret could make: a perfectly valid admin token, signed with the deployment's key.
        string rootId = (await _server.Services.GetRequiredService<IUserStore>().FindByUsernameAsync("root", CancellationToken.None))!.Id;
        string kid = SigningKey.FromHmacSecret(Secret, "HS256").KeyId;
        DateTimeOffset now = _server.Time.GetUtcNow();
        string forged = Jwt.Encode(new Dictionary<string, object?>
        {
            ["iss"] = LatchkeyTestServer.Issuer,
            ["sub"] = rootId,
            ["aud"] = LatchkeyTestServer.Issuer,
            ["exp"] = now.AddMinutes(5),
            ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString(),
            ["client_id"] = "default",
            ["scope"] = Scopes.Admin,
            ["role"] = new[] { "admin" },
        }, Secret, "HS256", new Dictionary<string, object?> { ["typ"] = "at+jwt", ["kid"] = kid });
        using (HttpResponseMessage me = await _server.GetWithBearerAsync("/me", forged))
            await HttpAssert.OkJsonAsync(me); // it verifies: the signature is good

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/admin/users", forged);

        Assert.Contains("HMAC", await AdminHttp.ProblemAsync(response, HttpStatusCode.Forbidden));
    }
}
