using System.Net;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>
/// The browser-facing headers on every response: no sniffing, no Referer, a Content-Security-Policy that loads and frames
/// nothing (a looser one for the Swagger UI at /docs, still unframeable), and HSTS only for an https issuer.
/// </summary>
public sealed class SecurityHeadersTests
{
    private const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";

    [Fact]
    public async Task Token_Success_CarriesTheApiHeaders()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", "correct horse battery");

        using HttpResponseMessage response = await server.PostTokenAsync("alice", "correct horse battery");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertApiHeaders(response);
    }

    [Fact]
    public async Task Token_Error_CarriesTheApiHeaders()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();

        using HttpResponseMessage response = await server.PostTokenAsync("nobody", "a mistyped guess");

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
        AssertApiHeaders(response);
    }

    [Theory]
    [InlineData("/.well-known/jwks.json", HttpStatusCode.OK)]
    [InlineData("/.well-known/openid-configuration", HttpStatusCode.OK)]
    [InlineData("/healthz", HttpStatusCode.OK)]
    [InlineData("/openapi.json", HttpStatusCode.OK)]
    [InlineData("/no-such-path", HttpStatusCode.NotFound)]
    [InlineData("/me", HttpStatusCode.Unauthorized)]
    public async Task Get_AnyPath_CarriesTheApiHeaders(string path, HttpStatusCode status)
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();

        using HttpResponseMessage response = await server.Client.GetAsync(path);

        Assert.Equal(status, response.StatusCode);
        AssertApiHeaders(response);
    }

    [Fact]
    public async Task Docs_Page_HasAPolicyForItsOwnAssetsThatForbidsFramingAndInlineScript()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();

        using HttpResponseMessage response = await server.Client.GetAsync("/docs/index.html");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string policy = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Equal("default-src 'none'; script-src 'self'; style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; " +
                     "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", policy);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        // Whether Swagger UI really works under it is DocsBrowserTests' part: it fails on any CSP violation.
    }

    [Fact]
    public async Task Hsts_HttpIssuer_NotSent()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();

        using HttpResponseMessage response = await server.Client.GetAsync("/.well-known/jwks.json");

        AssertApiHeaders(response);
        Assert.False(response.Headers.Contains("Strict-Transport-Security"));
    }

    [Fact]
    public async Task Hsts_HttpsIssuer_SentForAYear()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.Issuer = "https://latchkey.test");

        using HttpResponseMessage response = await server.Client.GetAsync("/.well-known/jwks.json");

        AssertApiHeaders(response);
        Assert.Equal("max-age=31536000", Assert.Single(response.Headers.GetValues("Strict-Transport-Security")));
    }

    private static void AssertApiHeaders(HttpResponseMessage response)
    {
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.Equal(ApiPolicy, Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
    }
}
