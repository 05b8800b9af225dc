using System.Net;
using Latchkey.Endpoints;
using Latchkey.Tests.Support;
using Microsoft.AspNetCore.Http;

namespace Latchkey.Tests.Endpoints;

/// <summary>
/// <c>Latchkey:Metrics:Urls</c>: <c>/metrics</c> on a listener of its own, told apart by the connection's local port,
/// and nothing else there; the public listener serves everything but <c>/metrics</c>.
/// </summary>
public sealed class MetricsListenerTests
{
    /// <summary>A server on a free public port and a metrics port picked up front (tried again if another process took it).</summary>
    private static async Task<(LatchkeyTestServer Server, Uri Metrics)> StartWithMetricsListenerAsync()
    {
        for (int attempt = 1; ; attempt++)
        {
            string metrics = $"http://127.0.0.1:{LatchkeyTestServer.FreePort()}";
            try
            {
                return (await LatchkeyTestServer.StartAsync(o => o.Metrics.Urls = metrics, alsoListenOn: [metrics]), new Uri(metrics));
            }
            catch (IOException) when (attempt < 3)
            {
            }
        }
    }

    [Fact]
    public async Task Metrics_OnItsOwnListener_AnswersThereAnd404OnThePublicOne()
    {
        (LatchkeyTestServer server, Uri metricsAddress) = await StartWithMetricsListenerAsync();
        await using LatchkeyTestServer _ = server;
        using var metrics = new HttpClient { BaseAddress = metricsAddress };

        using HttpResponseMessage scrape = await metrics.GetAsync("/metrics");
        using HttpResponseMessage onPublic = await server.Client.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        Assert.StartsWith("text/plain", scrape.Content.Headers.ContentType?.MediaType);
        Assert.Contains("latchkey_signing_key_age_seconds", await scrape.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, onPublic.StatusCode);
        Assert.NotEqual(metricsAddress.Port, server.BaseAddress.Port);
    }

    [Fact]
    public async Task Metrics_OnItsOwnListener_PublicEndpointsAre404ThereAndStillServedPublicly()
    {
        (LatchkeyTestServer server, Uri metricsAddress) = await StartWithMetricsListenerAsync();
        await using LatchkeyTestServer _ = server;
        using var metrics = new HttpClient { BaseAddress = metricsAddress };
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };

        using HttpResponseMessage token = await metrics.PostAsync("/token", new FormUrlEncodedContent(form));
        using HttpResponseMessage jwks = await metrics.GetAsync("/.well-known/jwks.json");
        using HttpResponseMessage admin = await metrics.GetAsync("/admin/users"); // 404, not 401: the route does not exist here
        using HttpResponseMessage health = await metrics.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.NotFound, token.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, jwks.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, admin.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, health.StatusCode);
        using HttpResponseMessage publicToken = await server.PostFormAsync("/token", form);
        await HttpAssert.OAuthErrorAsync(publicToken, HttpStatusCode.BadRequest, "unauthorized_client");
        using HttpResponseMessage publicJwks = await server.Client.GetAsync("/.well-known/jwks.json");
        Assert.Equal(HttpStatusCode.OK, publicJwks.StatusCode);
    }

    [Fact]
    public async Task Metrics_PublicRequestWhoseHostHeaderNamesTheMetricsListener_Is404()
    {
        (LatchkeyTestServer server, Uri metricsAddress) = await StartWithMetricsListenerAsync();
        await using LatchkeyTestServer _ = server;
        var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Host = metricsAddress.Authority;

        using HttpResponseMessage response = await server.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9464", "http://0.0.0.0:5000", null)]
    [InlineData("http://127.0.0.1:9464;http://[::1]:9464", "http://127.0.0.1:5000", null)]
    [InlineData("http://127.0.0.1:5000", "http://127.0.0.2:5000", null)]
    [InlineData("http://127.0.0.1:9464", null, null)]
    [InlineData("http://10.0.0.5:5000", "http://localhost:5000", null)]
    [InlineData("nonsense", "http://127.0.0.1:5000", "not a listen URL")]
    [InlineData("http://127.0.0.1:0", "http://127.0.0.1:5000", "not a listen URL")]
    [InlineData("ftp://127.0.0.1:9464", null, "not a listen URL")]
    [InlineData("http://127.0.0.1:9464/metrics", null, "not a listen URL")]
    [InlineData("http://127.0.0.1:5000", "http://127.0.0.1:5000", "also a public listen address")]
    [InlineData("http://127.0.0.1:5000", "http://0.0.0.0:5000", "also a public listen address")]
    [InlineData("http://127.0.0.1:5000", "http://localhost:5000", "also a public listen address")]
    [InlineData("http://*:5000", "http://10.0.0.5:5000", "also a public listen address")]
    [InlineData("http://localhost:5000", "https://[::1]:5000;http://127.0.0.1:8080", "also a public listen address")]
    public void Validator_MetricsUrls_ParseAndHaveAPortOfTheirOwn(string metricsUrls, string? listenUrls, string? problem)
    {
        var options = new LatchkeyOptions { Issuer = "https://auth.example.com", Metrics = { Urls = metricsUrls } };

        string[] problems = [.. LatchkeyOptionsValidator.Problems(options, listenUrls).Where(p => p.StartsWith("Latchkey:Metrics:Urls", StringComparison.Ordinal))];

        if (problem is null)
            Assert.Empty(problems);
        else
            Assert.Contains(problem, Assert.Single(problems));
    }

    [Fact]
    public void Listener_ConnectionFromIpv4OnADualStackSocket_IsMatchedByItsIpv4Address()
    {
        MetricsListener listener = MetricsListener.Parse("http://127.0.0.1:9464")!;
        var context = new DefaultHttpContext();
        context.Connection.LocalIpAddress = IPAddress.Parse("::ffff:127.0.0.1");
        context.Connection.LocalPort = 9464;

        Assert.True(listener.Accepts(context.Connection));
        context.Connection.LocalPort = 9465;
        Assert.False(listener.Accepts(context.Connection));
        context.Connection.LocalIpAddress = IPAddress.Parse("127.0.0.2");
        context.Connection.LocalPort = 9464;
        Assert.False(listener.Accepts(context.Connection));
        Assert.Null(MetricsListener.Parse(" ; "));
    }
}
