using System.Net;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.SignIn;

/// <summary>CORS for browser apps: only the origins of registered redirect URIs, only the endpoints a browser app calls.</summary>
public sealed class BrowserCorsTests : IAsyncLifetime
{
    private const string SpaOrigin = "http://127.0.0.1:5173";
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await BrowserFlow.AddBrowserClientAsync(_server, "spa", [SpaOrigin + "/callback"], isPublic: true);
        await _server.AddClientAsync("service", ["client_credentials"]);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string origin, string? requestMethod = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Origin", origin);
        if (requestMethod is not null)
        {
            request.Headers.Add("Access-Control-Request-Method", requestMethod);
            request.Headers.Add("Access-Control-Request-Headers", "content-type");
        }

        return _server.Client.SendAsync(request);
    }

    private static string? AllowedOrigin(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Access-Control-Allow-Origin", out IEnumerable<string>? values) ? values.Single() : null;

    [Theory]
    [InlineData("/token")]
    [InlineData("/revoke")]
    [InlineData("/userinfo")]
    public async Task Preflight_FromARegisteredRedirectOrigin_IsAllowed_WithoutCredentials(string path)
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Options, path, SpaOrigin, "POST");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(SpaOrigin, AllowedOrigin(response));
        Assert.Contains("POST", response.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.False(response.Headers.Contains("Access-Control-Allow-Credentials"));
    }

    [Theory]
    [InlineData("/.well-known/openid-configuration")]
    [InlineData("/.well-known/jwks.json")]
    public async Task Get_DiscoveryAndKeys_FromARegisteredOrigin_CarryItsOrigin(string path)
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Get, path, SpaOrigin);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(SpaOrigin, AllowedOrigin(response));
    }

    [Theory]
    [InlineData("https://evil.example")]
    [InlineData("http://127.0.0.1:5174")] // another port of the same host
    [InlineData("null")]
    public async Task AnyOtherOrigin_GetsNoCorsHeaders(string origin)
    {
        using HttpResponseMessage preflight = await SendAsync(HttpMethod.Options, "/token", origin, "POST");
        using HttpResponseMessage get = await SendAsync(HttpMethod.Get, "/.well-known/jwks.json", origin);

        Assert.Null(AllowedOrigin(preflight));
        Assert.Null(AllowedOrigin(get));
    }

    [Theory]
    [InlineData("/admin/users")]
    [InlineData("/introspect")]
    [InlineData("/authorize")]
    public async Task OtherEndpoints_GetNoCorsHeaders_EvenForARegisteredOrigin(string path)
    {
        using HttpResponseMessage preflight = await SendAsync(HttpMethod.Options, path, SpaOrigin, "POST");

        Assert.Null(AllowedOrigin(preflight));
    }
}
