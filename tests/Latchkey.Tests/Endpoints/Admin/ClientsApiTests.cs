using System.Net;
using System.Text.Json;
using Latchkey.Audit;
using Latchkey.Clients;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints.Admin;

/// <summary>/admin/clients over real HTTP: what an admin creates, rotates, disables and removes is what /token then honours.</summary>
public sealed class ClientsApiTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private const string ServiceJson = """{"client_id": "billing-svc", "grant_types": ["client_credentials"], "scopes": ["invoices:read"], "audience": "api://billing"}""";
    private LatchkeyTestServer _server = null!;
    private string _adminToken = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("root", Password, "admin");
        await _server.AddUserAsync("alice", Password, "billing");
        _adminToken = await _server.GetAdminTokenAsync("root", Password);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private Task<HttpResponseMessage> AdminAsync(HttpMethod method, string path, string? json = null) =>
        AdminHttp.SendAsync(_server.Client, method, path, _adminToken, json);

    private async Task<string> CreateServiceAsync()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients", ServiceJson);
        JsonElement body = await AdminHttp.JsonAsync(response, HttpStatusCode.Created);
        return body.GetProperty("client_secret").GetString()!;
    }

    private async Task AssertTokenIssuedAsync(string clientId, string secret)
    {
        using HttpResponseMessage response = await AdminHttp.ClientCredentialsAsync(_server.Client, clientId, secret);
        await HttpAssert.OkJsonAsync(response);
    }

    private async Task AssertInvalidClientAsync(string clientId, string secret)
    {
        using HttpResponseMessage response = await AdminHttp.ClientCredentialsAsync(_server.Client, clientId, secret);
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
        Assert.Equal("Basic", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    /// <summary>The registered clients (not the built-in first-party one, which is always listed too).</summary>
    private async Task<JsonElement[]> ListAsync()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Get, "/admin/clients");
        return (await AdminHttp.JsonAsync(response, HttpStatusCode.OK)).EnumerateArray().Where(c => !c.GetProperty("public").GetBoolean()).ToArray();
    }

    [Fact]
    public async Task CreateClient_PublicBrowserClient_201WithoutASecret_ListedWithItsRedirects()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients", """
            {"client_id": "spa", "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": ["https://spa.example/cb"],
             "post_logout_redirect_uris": ["https://spa.example/"], "public": true, "first_party": true}
            """);

        JsonElement body = await AdminHttp.JsonAsync(response, HttpStatusCode.Created);
        Assert.False(body.TryGetProperty("client_secret", out _));
        Assert.True(body.GetProperty("public").GetBoolean());
        Assert.Equal(["https://spa.example/cb"], body.GetProperty("redirect_uris").EnumerateArray().Select(u => u.GetString()));
        using HttpResponseMessage list = await AdminAsync(HttpMethod.Get, "/admin/clients");
        JsonElement spa = Assert.Single((await AdminHttp.JsonAsync(list, HttpStatusCode.OK)).EnumerateArray(), c => c.GetProperty("client_id").GetString() == "spa");
        Assert.True(spa.GetProperty("first_party").GetBoolean());
        Assert.Equal(["https://spa.example/"], spa.GetProperty("post_logout_redirect_uris").EnumerateArray().Select(u => u.GetString()));
        Assert.Equal("RS256", spa.GetProperty("id_token_signed_response_alg").GetString());
    }

    [Fact]
    public async Task CreateClient_WithTheAccessTokensAlgorithmForIdTokens_201_ListedWithIt()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients", """
            {"client_id": "web", "grant_types": ["authorization_code"], "redirect_uris": ["https://web.example/cb"], "id_token_signed_response_alg": "ES256"}
            """);

        Assert.Equal("ES256", (await AdminHttp.JsonAsync(response, HttpStatusCode.Created)).GetProperty("id_token_signed_response_alg").GetString());
        using HttpResponseMessage list = await AdminAsync(HttpMethod.Get, "/admin/clients");
        JsonElement web = Assert.Single((await AdminHttp.JsonAsync(list, HttpStatusCode.OK)).EnumerateArray(), c => c.GetProperty("client_id").GetString() == "web");
        Assert.Equal("ES256", web.GetProperty("id_token_signed_response_alg").GetString());
    }

    [Fact]
    public async Task CreateClient_RequiringMfa_201_ListedWithIt()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients", """
            {"client_id": "web", "grant_types": ["authorization_code"], "redirect_uris": ["https://web.example/cb"], "require_mfa": true}
            """);

        Assert.True((await AdminHttp.JsonAsync(response, HttpStatusCode.Created)).GetProperty("require_mfa").GetBoolean());
        using HttpResponseMessage list = await AdminAsync(HttpMethod.Get, "/admin/clients");
        JsonElement[] clients = (await AdminHttp.JsonAsync(list, HttpStatusCode.OK)).EnumerateArray().ToArray();
        Assert.True(Assert.Single(clients, c => c.GetProperty("client_id").GetString() == "web").GetProperty("require_mfa").GetBoolean());
        Assert.All(clients.Where(c => c.GetProperty("client_id").GetString() != "web"), c => Assert.False(c.GetProperty("require_mfa").GetBoolean()));
    }

    [Theory]
    [InlineData("""{"client_id": "web", "grant_types": ["authorization_code"], "redirect_uris": ["http://web.example/cb"]}""", "loopback")]
    [InlineData("""{"client_id": "web", "grant_types": ["authorization_code"]}""", "redirect URI")]
    [InlineData("""{"client_id": "web", "grant_types": ["client_credentials"], "public": true}""", "authorization_code")]
    [InlineData("""{"client_id": "web", "grant_types": ["authorization_code", "password"], "redirect_uris": ["https://w.example/cb"], "public": true}""", "public client")]
    [InlineData("""{"client_id": "web", "grant_types": ["authorization_code"], "redirect_uris": [null]}""", "lists of strings")]
    [InlineData("""{"client_id": "web", "grant_types": ["authorization_code"], "redirect_uris": ["https://w.example/cb"], "id_token_signed_response_alg": "HS256"}""", "use RS256 or ES256")]
    [InlineData("""{"client_id": "web", "grant_types": ["client_credentials"], "id_token_signed_response_alg": "ES256"}""", "--id-token-alg")]
    [InlineData("""{"client_id": "web", "grant_types": ["client_credentials"], "require_mfa": true}""", "--require-mfa")]
    [InlineData("""{"client_id": "web", "grant_types": ["authorization_code", "password"], "redirect_uris": ["https://w.example/cb"], "require_mfa": true}""", "password grant")]
    public async Task CreateClient_BrowserClientBreakingARule_400SayingWhich(string json, string reason)
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients", json);

        Assert.Contains(reason, await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task CreateClient_ValidBody_201WithTheSecretOnceAndNoStore()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients", ServiceJson);

        JsonElement body = await AdminHttp.JsonAsync(response, HttpStatusCode.Created);
        Assert.Equal(["client_id", "client_secret", "grant_types", "scopes", "audience", "introspection", "redirect_uris", "post_logout_redirect_uris", "public",
            "first_party", "id_token_signed_response_alg", "require_mfa"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal("billing-svc", body.GetProperty("client_id").GetString());
        Assert.StartsWith(ClientSecrets.Prefix, body.GetProperty("client_secret").GetString());
        Assert.Equal(["client_credentials"], body.GetProperty("grant_types").EnumerateArray().Select(g => g.GetString()));
        Assert.Equal(["invoices:read"], body.GetProperty("scopes").EnumerateArray().Select(g => g.GetString()));
        Assert.Equal("api://billing", body.GetProperty("audience").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("introspection").ValueKind);
        Assert.True(response.Headers.CacheControl?.NoStore, "Cache-Control: no-store missing on a response carrying a secret");
    }

    [Theory]
    [InlineData("0190f3c4-5f6e-7a8b-9c0d-1e2f3a4b5c6d")]
    [InlineData("0190F3C45F6E7A8B9C0D1E2F3A4B5C6D")]
    public async Task CreateClient_IdShapedLikeAUserId_400AndNothingAdded(string clientId)
    {
        // A client_credentials token's sub is the client id: a client named like a user's id would get tokens naming that user.
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients",
            $$"""{"client_id": "{{clientId}}", "grant_types": ["client_credentials"]}""");

        Assert.Contains("form of a user id", await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest));
        Assert.Empty(await ListAsync());
    }

    [Fact]
    public async Task CreateClient_ExistingUsersIdAsClientId_IsRefused()
    {
        string aliceId = (await _server.Services.GetRequiredService<IUserStore>().FindByUsernameAsync("alice", TestContext.Current.CancellationToken))!.Id;

        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients",
            $$"""{"client_id": "{{aliceId}}", "grant_types": ["client_credentials"]}""");

        await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest);
        using HttpResponseMessage token = await AdminHttp.ClientCredentialsAsync(_server.Client, aliceId, "lk_cs_anything");
        await HttpAssert.OAuthErrorAsync(token, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Theory]
    [InlineData("any")]
    [InlineData("audience")]
    public async Task CreateClient_WithIntrospection_IsListedWithIt(string permission)
    {
        using (HttpResponseMessage created = await AdminAsync(HttpMethod.Post, "/admin/clients",
                   $$"""{"client_id": "gateway", "grant_types": ["client_credentials"], "introspection": "{{permission}}"}"""))
            Assert.Equal(permission, (await AdminHttp.JsonAsync(created, HttpStatusCode.Created)).GetProperty("introspection").GetString());

        Assert.Equal(permission, Assert.Single(await ListAsync()).GetProperty("introspection").GetString());
    }

    [Fact]
    public async Task CreateClient_UnknownIntrospectionPermission_400()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients",
            """{"client_id": "gateway", "grant_types": ["client_credentials"], "introspection": "everything"}""");

        Assert.Contains("not an introspection permission", await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest));
        Assert.Empty(await ListAsync());
    }

    [Fact]
    public async Task ChangeScopes_AddAndRemove_AppliesToTheNextTokenAtOnce()
    {
        string secret = await CreateServiceAsync();

        using (HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients/billing-svc/scopes", """{"add": ["invoices:write"], "remove": ["invoices:read"]}"""))
            Assert.Equal(["invoices:write"], (await AdminHttp.JsonAsync(response, HttpStatusCode.OK)).GetProperty("scopes").EnumerateArray().Select(x => x.GetString()));

        using HttpResponseMessage removed = await AdminHttp.ClientCredentialsAsync(_server.Client, "billing-svc", secret, "invoices:read");
        await HttpAssert.OAuthErrorAsync(removed, HttpStatusCode.BadRequest, "invalid_scope");
        using HttpResponseMessage added = await AdminHttp.ClientCredentialsAsync(_server.Client, "billing-svc", secret, "invoices:write");
        await HttpAssert.OkJsonAsync(added);
    }

    [Theory]
    [InlineData("/admin/clients/ghost/scopes", """{"add": ["a"]}""", HttpStatusCode.NotFound)]
    [InlineData("/admin/clients/billing-svc/scopes", """{"add": ["a b"]}""", HttpStatusCode.BadRequest)]
    [InlineData("/admin/clients/billing-svc/scopes", """{"add": "a"}""", HttpStatusCode.BadRequest)]
    [InlineData("/admin/clients/default/scopes", """{"add": ["a"]}""", HttpStatusCode.BadRequest)]
    public async Task ChangeScopes_UnknownClientOrBadScope_ProblemAndNothingChanged(string path, string json, HttpStatusCode status)
    {
        await CreateServiceAsync();

        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, path, json);

        await AdminHttp.ProblemAsync(response, status);
        Assert.Equal(["invoices:read"], Assert.Single(await ListAsync()).GetProperty("scopes").EnumerateArray().Select(x => x.GetString()));
    }

    [Fact]
    public async Task FirstPartyClient_Listed_WithItsConfiguredGrantsAndScopes()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Get, "/admin/clients");

        JsonElement firstParty = Assert.Single((await AdminHttp.JsonAsync(response, HttpStatusCode.OK)).EnumerateArray(), c => c.GetProperty("public").GetBoolean());
        Assert.Equal("default", firstParty.GetProperty("client_id").GetString());
        Assert.Equal(["password", "refresh_token"], firstParty.GetProperty("grant_types").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(["api", "latchkey:admin"], firstParty.GetProperty("scopes").EnumerateArray().Select(x => x.GetString()));
    }

    [Fact]
    public async Task FirstPartyClient_Disabled_RefusesLoginsAndRefreshesUntilEnabled()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);
        // Disabling the first-party client cuts off its tokens, the admin's own included: this admin signs in through another client.
        string console = await _server.AddClientAsync("console", ["password"], ["latchkey:admin"]);
        using (HttpResponseMessage login = await _server.PostFormAsync("/token",
                   new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "root", ["password"] = Password, ["scope"] = "latchkey:admin" },
                   basic: ("console", console)))
            _adminToken = (await HttpAssert.OkJsonAsync(login)).GetProperty("access_token").GetString()!;

        using (HttpResponseMessage disable = await AdminAsync(HttpMethod.Post, "/admin/clients/default/disable"))
            Assert.True((await AdminHttp.JsonAsync(disable, HttpStatusCode.OK)).GetProperty("disabled").GetBoolean());

        await HttpAssert.OAuthErrorAsync(await _server.PostTokenAsync("alice", Password), HttpStatusCode.Unauthorized, "invalid_client");
        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(refresh), HttpStatusCode.Unauthorized, "invalid_client");
        using (HttpResponseMessage seed = await _server.Client.SendAsync(SeedRequest()))
            await HttpAssert.OAuthErrorAsync(seed, HttpStatusCode.Unauthorized, "invalid_client");

        using (HttpResponseMessage enable = await AdminAsync(HttpMethod.Post, "/admin/clients/default/enable"))
            Assert.False((await AdminHttp.JsonAsync(enable, HttpStatusCode.OK)).GetProperty("disabled").GetBoolean());
        await HttpAssert.OkJsonAsync(await _server.PostTokenAsync("alice", Password));
        // Disabling ended its logins: the refresh token from before stays revoked.
        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(refresh), HttpStatusCode.BadRequest, "invalid_grant");
    }

    private static HttpRequestMessage SeedRequest()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/token");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("alice:" + Password)));
        return request;
    }

    [Theory]
    [InlineData("POST", "/admin/clients/default/rotate-secret", "public client")]
    [InlineData("DELETE", "/admin/clients/default", "disable it instead")]
    public async Task FirstPartyClient_RotateOrRemove_400SayingWhy(string method, string path, string detail)
    {
        using HttpResponseMessage response = await AdminAsync(new HttpMethod(method), path);

        Assert.Contains(detail, await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest));
        await HttpAssert.OkJsonAsync(await _server.PostTokenAsync("alice", Password));
    }

    [Fact]
    public async Task CreateClient_ThenClientCredentials_TokenForTheClientAndItsAudience()
    {
        string secret = await CreateServiceAsync();

        using HttpResponseMessage response = await AdminHttp.ClientCredentialsAsync(_server.Client, "billing-svc", secret, "invoices:read");

        JsonElement body = await HttpAssert.OkJsonAsync(response);
        Assert.False(body.TryGetProperty("refresh_token", out _));
        JsonElement claims = HttpAssert.Part(body.GetProperty("access_token").GetString()!, 1);
        Assert.Equal("billing-svc", claims.GetProperty("sub").GetString());
        Assert.Equal("api://billing", claims.GetProperty("aud").GetString());
    }

    [Theory]
    [InlineData("""{"client_id": "svc", "grant_types": ["implicit"]}""", "not a grant")]
    [InlineData("""{"client_id": "svc", "grant_types": []}""", "at least one")]
    [InlineData("""{"client_id": "bad name", "grant_types": ["client_credentials"]}""", "not a valid client name")]
    [InlineData("""{"client_id": "svc", "grant_types": ["client_credentials"], "scopes": ["a\"b"]}""", "not a valid scope")]
    [InlineData("""{"client_id": "svc", "grant_types": ["client_credentials"], "scopes": [null]}""", "lists of strings")]
    [InlineData("""{"grant_types": ["client_credentials"]}""", "client_id")]
    [InlineData("""{"client_id": "svc", "grant_type": ["client_credentials"]}""", "grant_type")]
    [InlineData("""{"client_id": "svc", """, "not valid JSON")]
    [InlineData("null", "JSON object")]
    public async Task CreateClient_InvalidBody_400ProblemAndNothingAdded(string json, string detail)
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients", json);

        Assert.Contains(detail, await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest));
        Assert.Empty(await ListAsync());
    }

    [Fact]
    public async Task CreateClient_FormBodyInsteadOfJson_400Problem()
    {
        using HttpResponseMessage response = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, "/admin/clients", _adminToken,
            "client_id=svc&grant_types=client_credentials", "application/x-www-form-urlencoded");

        Assert.Contains("application/json", await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest));
        Assert.Empty(await ListAsync());
    }

    [Fact]
    public async Task CreateClient_ExistingName_409AndTheFirstSecretStillWorks()
    {
        string secret = await CreateServiceAsync();

        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients", ServiceJson);

        Assert.Contains("already exists", await AdminHttp.ProblemAsync(response, HttpStatusCode.Conflict));
        await AssertTokenIssuedAsync("billing-svc", secret);
    }

    [Fact]
    public async Task CreateClient_FirstPartyClientName_409()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients",
            """{"client_id": "default", "grant_types": ["client_credentials"]}""");

        Assert.Contains("built-in", await AdminHttp.ProblemAsync(response, HttpStatusCode.Conflict));
        Assert.Empty(await ListAsync());
    }

    [Fact]
    public async Task ListClients_AfterCreate_ShowsTheClientWithoutSecretOrHash()
    {
        string secret = await CreateServiceAsync();

        using HttpResponseMessage response = await AdminAsync(HttpMethod.Get, "/admin/clients");

        JsonElement body = await AdminHttp.JsonAsync(response, HttpStatusCode.OK);
        JsonElement client = Assert.Single(body.EnumerateArray(), c => !c.GetProperty("public").GetBoolean());
        Assert.Equal(["client_id", "grant_types", "scopes", "audience", "disabled", "created_at", "introspection", "public", "redirect_uris",
            "post_logout_redirect_uris", "first_party", "id_token_signed_response_alg", "require_mfa"], client.EnumerateObject().Select(p => p.Name));
        Assert.Equal("billing-svc", client.GetProperty("client_id").GetString());
        Assert.False(client.GetProperty("disabled").GetBoolean());
        string raw = body.GetRawText();
        Assert.DoesNotContain(secret, raw);
        Assert.DoesNotContain(ClientSecrets.Hash(secret), raw);
    }

    [Fact]
    public async Task RotateSecret_KnownClient_OldSecretRefusedNewOneAccepted()
    {
        string old = await CreateServiceAsync();

        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients/billing-svc/rotate-secret");

        JsonElement body = await AdminHttp.JsonAsync(response, HttpStatusCode.OK);
        Assert.Equal(["client_id", "client_secret"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal("billing-svc", body.GetProperty("client_id").GetString());
        Assert.True(response.Headers.CacheControl?.NoStore, "Cache-Control: no-store missing on a response carrying a secret");
        string fresh = body.GetProperty("client_secret").GetString()!;
        Assert.NotEqual(old, fresh);
        await AssertInvalidClientAsync("billing-svc", old);
        await AssertTokenIssuedAsync("billing-svc", fresh);
    }

    [Fact]
    public async Task DisableThenEnable_KnownClient_DisabledClientGets401InvalidClientThenTokensAgain()
    {
        string secret = await CreateServiceAsync();

        using (HttpResponseMessage disable = await AdminAsync(HttpMethod.Post, "/admin/clients/billing-svc/disable"))
            Assert.True((await AdminHttp.JsonAsync(disable, HttpStatusCode.OK)).GetProperty("disabled").GetBoolean());
        await AssertInvalidClientAsync("billing-svc", secret);
        Assert.True(Assert.Single(await ListAsync()).GetProperty("disabled").GetBoolean());

        using (HttpResponseMessage enable = await AdminAsync(HttpMethod.Post, "/admin/clients/billing-svc/enable"))
            Assert.False((await AdminHttp.JsonAsync(enable, HttpStatusCode.OK)).GetProperty("disabled").GetBoolean());
        await AssertTokenIssuedAsync("billing-svc", secret);
    }

    [Fact]
    public async Task RemoveClient_KnownClient_204GoneFromTheListAndItsSecretRefused()
    {
        string secret = await CreateServiceAsync();

        using HttpResponseMessage response = await AdminAsync(HttpMethod.Delete, "/admin/clients/billing-svc");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await ListAsync());
        await AssertInvalidClientAsync("billing-svc", secret);
    }

    [Theory]
    [InlineData("POST", "/admin/clients/ghost/rotate-secret")]
    [InlineData("POST", "/admin/clients/ghost/disable")]
    [InlineData("POST", "/admin/clients/ghost/enable")]
    [InlineData("DELETE", "/admin/clients/ghost")]
    public async Task ClientRoute_UnknownClient_404ProblemNamingIt(string method, string path)
    {
        await CreateServiceAsync();

        using HttpResponseMessage response = await AdminAsync(new HttpMethod(method), path);

        Assert.Contains("No client named", await AdminHttp.ProblemAsync(response, HttpStatusCode.NotFound));
        Assert.False(Assert.Single(await ListAsync()).GetProperty("disabled").GetBoolean());
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task ClientRoute_NonAdminToken_403ProblemAndNothingChanged(string method, string path, string? json)
    {
        string secret = await CreateServiceAsync();
        string token = await _server.GetAccessTokenAsync("alice", Password);

        using HttpResponseMessage response = await AdminHttp.SendAsync(_server.Client, new HttpMethod(method), path, token, json);

        await AdminHttp.ProblemAsync(response, HttpStatusCode.Forbidden);
        await AssertTokenIssuedAsync("billing-svc", secret);
        Assert.Single(await ListAsync());
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task ClientRoute_NoToken_401BearerChallenge(string method, string path, string? json)
    {
        using HttpResponseMessage response = await AdminHttp.SendAsync(_server.Client, new HttpMethod(method), path, token: null, json);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    public static TheoryData<string, string, string?> Routes => new()
    {
        { "GET", "/admin/clients", null },
        { "POST", "/admin/clients", """{"client_id": "other", "grant_types": ["client_credentials"]}""" },
        { "POST", "/admin/clients/billing-svc/rotate-secret", null },
        { "POST", "/admin/clients/billing-svc/disable", null },
        { "POST", "/admin/clients/billing-svc/enable", null },
        { "DELETE", "/admin/clients/billing-svc", null },
        { "POST", "/admin/clients/billing-svc/scopes", """{"add": ["x"]}""" },
    };

    [Fact]
    public async Task ClientChanges_ByAnAdmin_AuditedWithTheAdminsName()
    {
        DateTimeOffset since = _server.Time.GetUtcNow();
        await CreateServiceAsync();
        foreach (string change in new[] { "rotate-secret", "disable", "enable" })
        {
            using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, $"/admin/clients/billing-svc/{change}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (HttpResponseMessage scopes = await AdminAsync(HttpMethod.Post, "/admin/clients/billing-svc/scopes", """{"add": ["x"]}"""))
            Assert.Equal(HttpStatusCode.OK, scopes.StatusCode);

        using (HttpResponseMessage remove = await AdminAsync(HttpMethod.Delete, "/admin/clients/billing-svc"))
            Assert.Equal(HttpStatusCode.NoContent, remove.StatusCode);

        IReadOnlyList<AuditEvent> events = await _server.Services.GetRequiredService<IAuditLog>().ReadAsync(since, TestContext.Current.CancellationToken);
        var changes = events.Where(e => e.Type.StartsWith("client_", StringComparison.Ordinal) || e.Type == AuditEvents.TokensCutOff).ToArray();
        Assert.Equal(["client_added", "client_secret_rotated", "client_disabled", "tokens_cut_off", "client_enabled", "client_scopes_changed", "client_removed", "tokens_cut_off"],
            changes.Select(e => e.Type));
        Assert.All(changes, e =>
        {
            Assert.Equal("root", e.Actor);
            Assert.Equal("billing-svc", e.ClientId);
            Assert.Equal("success", e.Outcome);
        });
    }
}
