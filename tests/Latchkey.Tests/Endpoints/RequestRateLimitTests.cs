using System.Net;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>
/// The per-address request ceiling on /token, /revoke and /introspect (<see cref="RateLimitOptions.PermitsPerMinute"/>),
/// over real connections from chosen loopback addresses. The window is a real minute (System.Threading.RateLimiting
/// reads the real clock), far longer than these tests run.
/// </summary>
public sealed class RequestRateLimitTests
{
    private const string Refusal = """{"error":"slow_down","error_description":"Too many requests from your address. Try again later."}""";

    [Fact]
    public async Task Token_OneRequestOverTheLimit_Is429WithRetryAfterAndSlowDown()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.RateLimit.PermitsPerMinute = 3);
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage allowed = await PostTokenAsync(server.Client);
            await HttpAssert.OAuthErrorAsync(allowed, HttpStatusCode.BadRequest, "unsupported_grant_type");
        }

        using HttpResponseMessage refused = await PostTokenAsync(server.Client);

        await AssertRefusedAsync(refused);
        // Another address has its own budget.
        using HttpClient other = server.CreateClient("127.0.0.2");
        using HttpResponseMessage elsewhere = await PostTokenAsync(other);
        await HttpAssert.OAuthErrorAsync(elsewhere, HttpStatusCode.BadRequest, "unsupported_grant_type");
    }

    [Fact]
    public async Task GetTokenRevokeAndIntrospect_ShareOneBudgetAndOtherEndpointsAreNotCounted()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.RateLimit.PermitsPerMinute = 3);
        using (HttpResponseMessage seed = await server.Client.GetAsync("/token"))
            Assert.Equal(HttpStatusCode.Unauthorized, seed.StatusCode);
        using (HttpResponseMessage revoke = await server.PostFormAsync("/revoke", new Dictionary<string, string> { ["token"] = "x" }))
            Assert.NotEqual(HttpStatusCode.TooManyRequests, revoke.StatusCode);
        using (HttpResponseMessage introspect = await server.PostFormAsync("/introspect", new Dictionary<string, string> { ["token"] = "x" }))
            Assert.NotEqual(HttpStatusCode.TooManyRequests, introspect.StatusCode);

        await AssertRefusedAsync(await server.PostFormAsync("/introspect", new Dictionary<string, string> { ["token"] = "x" }));
        await AssertRefusedAsync(await server.PostFormAsync("/REVOKE/", new Dictionary<string, string> { ["token"] = "x" }));
        await AssertRefusedAsync(await server.Client.GetAsync("/token"));
        using HttpResponseMessage jwks = await server.Client.GetAsync("/.well-known/jwks.json");
        Assert.Equal(HttpStatusCode.OK, jwks.StatusCode);
    }

    [Fact]
    public async Task BehindTrustedProxy_EachClientHasItsOwnBudget()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.RateLimit.PermitsPerMinute = 2;
            o.TrustedProxies = ["127.0.0.2"];
        });
        using HttpClient proxy = server.CreateClient("127.0.0.2");
        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage allowed = await PostTokenAsync(proxy, forwardedFor: "203.0.113.9");
            Assert.Equal(HttpStatusCode.BadRequest, allowed.StatusCode);
        }

        using HttpResponseMessage refused = await PostTokenAsync(proxy, forwardedFor: "203.0.113.9");
        using HttpResponseMessage neighbour = await PostTokenAsync(proxy, forwardedFor: "203.0.113.10");

        await AssertRefusedAsync(refused);
        Assert.Equal(HttpStatusCode.BadRequest, neighbour.StatusCode);
    }

    [Fact]
    public async Task UntrustedPeerRotatingForwardedFor_IsOneAddress()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.RateLimit.PermitsPerMinute = 2;
            o.TrustedProxies = ["127.0.0.2"];
        });
        using (HttpResponseMessage first = await PostTokenAsync(server.Client, forwardedFor: "203.0.113.1"))
            Assert.Equal(HttpStatusCode.BadRequest, first.StatusCode);
        using (HttpResponseMessage second = await PostTokenAsync(server.Client, forwardedFor: "203.0.113.2"))
            Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);

        await AssertRefusedAsync(await PostTokenAsync(server.Client, forwardedFor: "203.0.113.3"));
    }

    private static Task<HttpResponseMessage> PostTokenAsync(HttpClient client, string? forwardedFor = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "urn:example:none" }),
        };
        if (forwardedFor is not null)
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        return client.SendAsync(request);
    }

    /// <summary>The whole refusal: status, Retry-After within the minute, no-store, JSON content type, the exact body, and the security headers.</summary>
    private static async Task AssertRefusedAsync(HttpResponseMessage response)
    {
        using (response)
        {
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.TooManyRequests, $"expected 429, got {(int)response.StatusCode}: {body}");
            Assert.Equal(Refusal, body);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
            TimeSpan? retryAfter = response.Headers.RetryAfter?.Delta;
            Assert.True(retryAfter >= TimeSpan.FromSeconds(1) && retryAfter <= TimeSpan.FromMinutes(1), $"Retry-After: {response.Headers.RetryAfter}");
            Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        }
    }
}
