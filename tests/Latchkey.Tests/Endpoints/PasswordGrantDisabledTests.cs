using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>Latchkey:PasswordGrant:Enabled=false: no password login at POST /token or GET /token; everything else goes on.</summary>
public sealed class PasswordGrantDisabledTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync(o => o.PasswordGrant.Enabled = false);
        await _server.AddUserAsync("alice", Password);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task PostToken_PasswordGrant_UnsupportedGrantTypeEvenForAClientAllowedIt()
    {
        await HttpAssert.OAuthErrorAsync(await _server.PostTokenAsync("alice", Password), HttpStatusCode.BadRequest, "unsupported_grant_type");
        string secret = await _server.AddClientAsync("legacy", ["password"]);
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "alice", ["password"] = Password };

        using HttpResponseMessage response = await _server.PostFormAsync("/token", form, basic: ("legacy", secret));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unsupported_grant_type");
        Assert.DoesNotContain(_server.Logs, l => l.Contains("[5001] Audit login_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GetToken_BasicCredentials_UnsupportedGrantType()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/token");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:" + Password)));

        using HttpResponseMessage response = await _server.Client.SendAsync(request);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unsupported_grant_type");
    }

    [Fact]
    public async Task Discovery_NoLongerAdvertisesThePasswordGrant_ClientCredentialsStillWorks()
    {
        using HttpResponseMessage discovery = await _server.Client.GetAsync("/.well-known/oauth-authorization-server");
        Assert.Equal(["authorization_code", "client_credentials", "refresh_token"],
            (await HttpAssert.OkJsonAsync(discovery)).GetProperty("grant_types_supported").EnumerateArray().Select(g => g.GetString()));

        string secret = await _server.AddClientAsync("svc", ["client_credentials"]);
        JsonElement body = await HttpAssert.OkJsonAsync(await AdminHttp.ClientCredentialsAsync(_server.Client, "svc", secret));
        Assert.StartsWith("ey", body.GetProperty("access_token").GetString());
    }
}
