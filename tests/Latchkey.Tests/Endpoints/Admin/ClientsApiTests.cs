using System.Net;
using System.Text.Json;
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
        _adminToken = await _server.GetAccessTokenAsync("root", Password);
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

    private async Task<JsonElement[]> ListAsync()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Get, "/admin/clients");
        return (await AdminHttp.JsonAsync(response, HttpStatusCode.OK)).EnumerateArray().ToArray();
    }

    [Fact]
    public async Task CreateClient_ValidBody_201WithTheSecretOnceAndNoStore()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients", ServiceJson);

        JsonElement body = await AdminHttp.JsonAsync(response, HttpStatusCode.Created);
        Assert.Equal(["client_id", "client_secret", "grant_types", "scopes", "audience"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal("billing-svc", body.GetProperty("client_id").GetString());
        Assert.StartsWith(ClientSecrets.Prefix, body.GetProperty("client_secret").GetString());
        Assert.Equal(["client_credentials"], body.GetProperty("grant_types").EnumerateArray().Select(g => g.GetString()));
        Assert.Equal(["invoices:read"], body.GetProperty("scopes").EnumerateArray().Select(g => g.GetString()));
        Assert.Equal("api://billing", body.GetProperty("audience").GetString());
        Assert.True(response.Headers.CacheControl?.NoStore, "Cache-Control: no-store missing on a response carrying a secret");
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
        JsonElement client = Assert.Single(body.EnumerateArray());
        Assert.Equal(["client_id", "grant_types", "scopes", "audience", "disabled", "created_at"], client.EnumerateObject().Select(p => p.Name));
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
    [InlineData("POST", "/admin/clients/default/rotate-secret")]
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

        using (HttpResponseMessage remove = await AdminAsync(HttpMethod.Delete, "/admin/clients/billing-svc"))
            Assert.Equal(HttpStatusCode.NoContent, remove.StatusCode);

        IReadOnlyList<AuditEvent> events = await _server.Services.GetRequiredService<IAuditLog>().ReadAsync(since, TestContext.Current.CancellationToken);
        var changes = events.Where(e => e.Type.StartsWith("client_", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["client_added", "client_secret_rotated", "client_disabled", "client_enabled", "client_removed"], changes.Select(e => e.Type));
        Assert.All(changes, e =>
        {
            Assert.Equal("root", e.Actor);
            Assert.Equal("billing-svc", e.ClientId);
            Assert.Equal("success", e.Outcome);
        });
    }
}
