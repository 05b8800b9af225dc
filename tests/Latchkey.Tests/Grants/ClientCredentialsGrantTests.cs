using System.Net;
using System.Text.Json;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Grants;

/// <summary>Client authentication (RFC 6749 §2.3.1) and grant_type=client_credentials (§4.4).</summary>
public sealed class ClientCredentialsGrantTests : IAsyncLifetime
{
    private LatchkeyTestServer _server = null!;
    private string _secret = null!;

    private static readonly Dictionary<string, string> Form = new() { ["grant_type"] = "client_credentials" };

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        _secret = await _server.AddClientAsync("billing", ["client_credentials"], ["invoices:read", "invoices:write"], audience: "billing-api");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task ClientCredentials_Basic_IssuesATokenForTheClientItself()
    {
        using HttpResponseMessage response = await _server.PostFormAsync("/token", Form, basic: ("billing", _secret));

        JsonElement body = await HttpAssert.OkJsonAsync(response);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.False(body.TryGetProperty("refresh_token", out _), "RFC 6749 §4.4.3: no refresh token");
        JsonElement claims = HttpAssert.Part(body.GetProperty("access_token").GetString()!, 1);
        Assert.Equal("billing", claims.GetProperty("sub").GetString());
        Assert.Equal("billing", claims.GetProperty("client_id").GetString());
        Assert.Equal("billing-api", claims.GetProperty("aud").GetString());
        Assert.False(claims.TryGetProperty("preferred_username", out _));
    }

    [Fact]
    public async Task ClientCredentials_SecretInBody_Works()
    {
        var form = new Dictionary<string, string>(Form) { ["client_id"] = "billing", ["client_secret"] = _secret };

        using HttpResponseMessage response = await _server.PostFormAsync("/token", form);

        await HttpAssert.OkJsonAsync(response);
    }

    [Fact]
    public async Task ClientCredentials_ScopeSubset_IsGranted()
    {
        var form = new Dictionary<string, string>(Form) { ["scope"] = "invoices:read" };

        JsonElement body = await HttpAssert.OkJsonAsync(await _server.PostFormAsync("/token", form, basic: ("billing", _secret)));

        Assert.Equal("invoices:read", body.GetProperty("scope").GetString());
        Assert.Equal("invoices:read", HttpAssert.Part(body.GetProperty("access_token").GetString()!, 1).GetProperty("scope").GetString());
    }

    [Fact]
    public async Task ClientCredentials_ScopeBeyondTheClients_InvalidScope()
    {
        var form = new Dictionary<string, string>(Form) { ["scope"] = "invoices:read admin" };

        using HttpResponseMessage response = await _server.PostFormAsync("/token", form, basic: ("billing", _secret));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Fact]
    public async Task ClientAuth_WrongSecretViaBasic_401WithBasicChallenge()
    {
        using HttpResponseMessage response = await _server.PostFormAsync("/token", Form, basic: ("billing", _secret + "x"));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
        Assert.Equal("Basic", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task ClientAuth_WrongSecretInBody_401WithoutChallenge()
    {
        var form = new Dictionary<string, string>(Form) { ["client_id"] = "billing", ["client_secret"] = "lk_cs_wrong" };

        using HttpResponseMessage response = await _server.PostFormAsync("/token", form);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
        Assert.Empty(response.Headers.WwwAuthenticate);
    }

    [Fact]
    public async Task ClientAuth_UnknownClientAndMissingSecret_SameInvalidClient()
    {
        using HttpResponseMessage unknown = await _server.PostFormAsync("/token", Form, basic: ("nobody", _secret));
        using HttpResponseMessage noSecret = await _server.PostFormAsync("/token", new Dictionary<string, string>(Form) { ["client_id"] = "billing" });

        JsonElement a = await HttpAssert.OAuthErrorAsync(unknown, HttpStatusCode.Unauthorized, "invalid_client");
        JsonElement b = await HttpAssert.OAuthErrorAsync(noSecret, HttpStatusCode.Unauthorized, "invalid_client");
        Assert.Equal(a.GetRawText(), b.GetRawText());
    }

    [Fact]
    public async Task ClientAuth_DisabledClient_InvalidClient()
    {
        await _server.Services.GetRequiredService<Latchkey.Clients.ClientAccounts>().SetDisabledAsync("billing", true, "test", CancellationToken.None);

        using HttpResponseMessage response = await _server.PostFormAsync("/token", Form, basic: ("billing", _secret));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task ClientAuth_GrantNotListedForTheClient_UnauthorizedClient()
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "x", ["password"] = "yyyyyyyy" };

        using HttpResponseMessage response = await _server.PostFormAsync("/token", form, basic: ("billing", _secret));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unauthorized_client");
    }

    [Fact]
    public async Task ClientAuth_SecretForTheFirstPartyClient_InvalidClient()
    {
        using HttpResponseMessage response = await _server.PostFormAsync("/token", Form, basic: ("default", "anything"));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task ClientAuth_ClientIdWithPunctuation_AuthenticatesViaBasic()
    {
        // RFC 6749 §2.3.1: id and secret are form-urlencoded inside Basic; the decoding must round-trip . - _.
        string secret = await _server.AddClientAsync("svc.a-b_c", ["client_credentials"]);

        using HttpResponseMessage response = await _server.PostFormAsync("/token", Form, basic: ("svc.a-b_c", secret));

        await HttpAssert.OkJsonAsync(response);
    }
}
