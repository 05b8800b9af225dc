using System.Net;
using System.Text.Json;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>POST /introspect (RFC 7662): for clients given the permission only; active or not, never an error for a bad token.</summary>
public sealed class IntrospectionEndpointTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;
    private string _apiSecret = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", Password, "admin");
        _apiSecret = await _server.AddClientAsync("resource-api", ["client_credentials"], introspection: "any");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task<JsonElement> IntrospectAsync(string token, (string, string)? basic = null)
    {
        using HttpResponseMessage response = await _server.PostFormAsync("/introspect", new Dictionary<string, string> { ["token"] = token },
            basic ?? ("resource-api", _apiSecret));
        JsonElement body = await HttpAssert.OkJsonAsync(response);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        return body;
    }

    [Fact]
    public async Task Introspect_ValidAccessToken_ActiveWithItsClaims()
    {
        (string access, _) = await _server.LoginAsync("alice", Password);

        JsonElement body = await IntrospectAsync(access);

        Assert.True(body.GetProperty("active").GetBoolean());
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString()); // RFC 7662 §2.2: the type as RFC 6749 §5.1 names it
        Assert.Equal("alice", body.GetProperty("username").GetString());
        Assert.Equal("default", body.GetProperty("client_id").GetString());
        Assert.Equal(HttpAssert.Part(access, 1).GetProperty("jti").GetString(), body.GetProperty("jti").GetString());
        Assert.Equal(HttpAssert.Part(access, 1).GetProperty("exp").GetInt64(), body.GetProperty("exp").GetInt64());
    }

    [Fact]
    public async Task Introspect_TokenForAnotherAudience_IsStillDescribed()
    {
        string secret = await _server.AddClientAsync("svc", ["client_credentials"], audience: "svc-api");
        using HttpResponseMessage issued = await _server.PostFormAsync("/token", new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, basic: ("svc", secret));
        string access = (await HttpAssert.OkJsonAsync(issued)).GetProperty("access_token").GetString()!;

        JsonElement body = await IntrospectAsync(access);

        Assert.True(body.GetProperty("active").GetBoolean());
        Assert.Equal("svc-api", body.GetProperty("aud").GetString());
    }

    [Fact]
    public async Task Introspect_ExpiredAccessToken_Inactive()
    {
        (string access, _) = await _server.LoginAsync("alice", Password);
        _server.Time.Advance(TimeSpan.FromMinutes(31));

        JsonElement body = await IntrospectAsync(access);

        Assert.Equal("""{"active":false}""", body.GetRawText());
    }

    [Fact]
    public async Task Introspect_RevokedAccessToken_Inactive()
    {
        (string access, _) = await _server.LoginAsync("alice", Password);
        await _server.PostFormAsync("/revoke", new Dictionary<string, string> { ["token"] = access });

        Assert.Equal("""{"active":false}""", (await IntrospectAsync(access)).GetRawText());
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("a.b.c")]
    [InlineData("lk_rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Introspect_UnknownToken_Inactive(string token)
    {
        Assert.Equal("""{"active":false}""", (await IntrospectAsync(token)).GetRawText());
    }

    [Fact]
    public async Task Introspect_OwnRefreshToken_ActiveUntilSpent()
    {
        string secret = await _server.AddClientAsync("web", ["password", "refresh_token"], introspection: "any");
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "alice", ["password"] = Password };
        (_, string refresh) = await OAuthRequests.PairAsync(await _server.PostFormAsync("/token", form, basic: ("web", secret)));

        JsonElement active = await IntrospectAsync(refresh, ("web", secret));
        Assert.True(active.GetProperty("active").GetBoolean());
        Assert.Equal("refresh_token", active.GetProperty("token_type").GetString());
        Assert.Equal("web", active.GetProperty("client_id").GetString());

        // Another client learns nothing about it.
        Assert.Equal("""{"active":false}""", (await IntrospectAsync(refresh)).GetRawText());

        await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh, basic: ("web", secret)));
        Assert.Equal("""{"active":false}""", (await IntrospectAsync(refresh, ("web", secret))).GetRawText());
    }

    [Fact]
    public async Task Introspect_NoClientAuthentication_401()
    {
        (string access, _) = await _server.LoginAsync("alice", Password);

        using HttpResponseMessage response = await _server.PostFormAsync("/introspect", new Dictionary<string, string> { ["token"] = access });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task Introspect_WrongSecret_401()
    {
        using HttpResponseMessage response = await _server.PostFormAsync("/introspect", new Dictionary<string, string> { ["token"] = "x" },
            basic: ("resource-api", "lk_cs_wrong"));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task Introspect_ClientWithoutThePermission_403UnauthorizedClientAndNothingDescribed()
    {
        // Any client with a secret could otherwise learn who holds any token it sees.
        string secret = await _server.AddClientAsync("reports", ["client_credentials"]);
        (string access, _) = await _server.LoginAsync("alice", Password);

        using HttpResponseMessage response = await _server.PostFormAsync("/introspect", new Dictionary<string, string> { ["token"] = access },
            basic: ("reports", secret));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Forbidden, "unauthorized_client");
        Assert.DoesNotContain("alice", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Introspect_PermissionForItsOwnAudience_DescribesOnlyTokensForIt()
    {
        string gateway = await _server.AddClientAsync("gateway", ["client_credentials"], audience: "svc-api", introspection: "audience");
        string svc = await _server.AddClientAsync("svc", ["client_credentials"], audience: "svc-api");
        using HttpResponseMessage issued = await _server.PostFormAsync("/token", new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, basic: ("svc", svc));
        string forSvcApi = (await HttpAssert.OkJsonAsync(issued)).GetProperty("access_token").GetString()!;
        (string forApi, _) = await _server.LoginAsync("alice", Password);

        Assert.True((await IntrospectAsync(forSvcApi, ("gateway", gateway))).GetProperty("active").GetBoolean());
        Assert.Equal("""{"active":false}""", (await IntrospectAsync(forApi, ("gateway", gateway))).GetRawText());
        Assert.True((await IntrospectAsync(forApi)).GetProperty("active").GetBoolean());
    }

    [Fact]
    public async Task Introspect_AccessTokenOfALoginRevokedThroughItsRefreshToken_Inactive()
    {
        (string access, string refresh) = await _server.LoginAsync("alice", Password);
        Assert.True((await IntrospectAsync(access)).GetProperty("active").GetBoolean());

        using (HttpResponseMessage revoked = await _server.PostFormAsync("/revoke", new Dictionary<string, string> { ["token"] = refresh }))
            Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);

        Assert.Equal("""{"active":false}""", (await IntrospectAsync(access)).GetRawText());
    }
}
