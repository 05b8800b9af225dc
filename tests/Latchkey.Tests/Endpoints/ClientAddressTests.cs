using System.Net;
using Latchkey.Endpoints;
using Latchkey.Storage;
using Latchkey.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace Latchkey.Tests.Endpoints;

/// <summary>
/// Which address the login throttle and the audit log see, over real connections from chosen loopback addresses:
/// 127.0.0.2 plays the trusted reverse proxy, 127.0.0.1 anybody else. The address is read back from the audit event of
/// a failed login, which stores what the endpoint saw in <c>Connection.RemoteIpAddress</c>.
/// </summary>
public sealed class ClientAddressTests
{
    private const string Password = "correct horse battery";

    /// <summary>A wrong password that no log line can contain by chance (unlike "wrong password", a login failure's reason).</summary>
    private const string Guess = "a mistyped guess";
    private const string Proxy = "127.0.0.2";

    [Fact]
    public async Task ForwardedFor_FromUntrustedPeer_IsIgnored()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.TrustedProxies = [Proxy]);
        using HttpClient anybody = server.CreateClient("127.0.0.1");

        Assert.Equal("127.0.0.1", await FailedLoginAddressAsync(server, anybody, ("X-Forwarded-For", "203.0.113.9")));
        // The same header from the proxy is believed: the setting is live, and only the peer made the difference.
        using HttpClient proxy = server.CreateClient(Proxy);
        Assert.Equal("203.0.113.9", await FailedLoginAddressAsync(server, proxy, ("X-Forwarded-For", "203.0.113.9")));
    }

    [Fact]
    public async Task ForwardedFor_FromTrustedProxy_IsTheClientAddress()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.TrustedProxies = [Proxy]);
        using HttpClient proxy = server.CreateClient(Proxy);

        Assert.Equal("203.0.113.9", await FailedLoginAddressAsync(server, proxy, ("X-Forwarded-For", "203.0.113.9")));
    }

    [Fact]
    public async Task ForwardedFor_FromTrustedProxyWithoutTheHeader_IsTheProxy()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.TrustedProxies = ["127.0.0.0/24"]);
        using HttpClient proxy = server.CreateClient(Proxy);

        Assert.Equal(Proxy, await FailedLoginAddressAsync(server, proxy));
        Assert.Equal("203.0.113.9", await FailedLoginAddressAsync(server, proxy, ("X-Forwarded-For", "203.0.113.9")));
    }

    [Fact]
    public async Task ForwardedFor_ChainThroughTwoTrustedProxiesWithLimitTwo_IsTheClient()
    {
        // The client wrote 198.51.100.1 itself; the outer proxy (10.1.2.3) appended the client, the inner one (our peer) the outer one.
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.TrustedProxies = [Proxy, "10.0.0.0/8"];
            o.ForwardLimit = 2;
        });
        using HttpClient proxy = server.CreateClient(Proxy);

        Assert.Equal("203.0.113.9", await FailedLoginAddressAsync(server, proxy, ("X-Forwarded-For", "198.51.100.1, 203.0.113.9, 10.1.2.3")));
    }

    [Fact]
    public async Task ForwardedFor_UntrustedHopInTheChain_StopsTheWalkThere()
    {
        // 198.51.100.7 is not a proxy of ours, so what it claims (10.9.9.9, inside a trusted network) proves nothing.
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.TrustedProxies = [Proxy, "10.0.0.0/8"];
            o.ForwardLimit = 3;
        });
        using HttpClient proxy = server.CreateClient(Proxy);

        Assert.Equal("198.51.100.7", await FailedLoginAddressAsync(server, proxy, ("X-Forwarded-For", "10.9.9.9, 198.51.100.7")));
    }

    [Fact]
    public async Task ForwardedFor_EntryThatIsNotAnAddress_StopsTheWalkAtTheAddressSoFar()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.TrustedProxies = [Proxy, "10.0.0.0/8"];
            o.ForwardLimit = 3;
        });
        using HttpClient proxy = server.CreateClient(Proxy);

        Assert.Equal(Proxy, await FailedLoginAddressAsync(server, proxy, ("X-Forwarded-For", "203.0.113.9, not-an-address")));
        Assert.Equal("10.1.2.3", await FailedLoginAddressAsync(server, proxy, ("X-Forwarded-For", "203.0.113.9, unknown, 10.1.2.3")));
    }

    [Fact]
    public async Task Forwarded_Rfc7239QuotedIPv6WithPort_IsTheClientAndXForwardedForIsIgnored()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.TrustedProxies = [Proxy];
            o.ForwardedHeader = "Forwarded";
        });
        using HttpClient proxy = server.CreateClient(Proxy);

        Assert.Equal("2001:db8:cafe::17", await FailedLoginAddressAsync(server, proxy,
            ("Forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https;by=127.0.0.2"), ("X-Forwarded-For", "198.51.100.66")));
        // Only the configured header is read: the proxy passes the other one through from the client.
        Assert.Equal(Proxy, await FailedLoginAddressAsync(server, proxy, ("X-Forwarded-For", "198.51.100.66")));
    }

    [Fact]
    public async Task AddressThrottle_GuesserRotatingForwardedForFromUntrustedPeer_StaysOneAddress()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.TrustedProxies = [Proxy];
            o.LoginThrottle.AddressFailureThreshold = 3;
        });
        await server.AddUserAsync("alice", Password);
        using HttpClient guesser = server.CreateClient("127.0.0.1");
        for (int i = 1; i <= 3; i++)
        {
            using HttpResponseMessage failed = await SendLoginAsync(guesser, $"guess{i}", Guess, ("X-Forwarded-For", $"203.0.113.{i}"));
            await HttpAssert.OAuthErrorAsync(failed, HttpStatusCode.BadRequest, "invalid_grant");
        }

        using HttpResponseMessage blocked = await SendLoginAsync(guesser, "alice", Password, ("X-Forwarded-For", "203.0.113.4"));

        await HttpAssert.OAuthErrorAsync(blocked, HttpStatusCode.TooManyRequests, "slow_down");
        // Its count is its real address's, whichever way it comes: through the proxy it is blocked as well.
        using HttpClient proxy = server.CreateClient(Proxy);
        using HttpResponseMessage proxied = await SendLoginAsync(proxy, "alice", Password, ("X-Forwarded-For", "127.0.0.1"));
        await HttpAssert.OAuthErrorAsync(proxied, HttpStatusCode.TooManyRequests, "slow_down");
    }

    [Fact]
    public async Task AddressThrottle_ClientsBehindOneTrustedProxy_AreCountedApart()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.TrustedProxies = [Proxy];
            o.LoginThrottle.AddressFailureThreshold = 3;
        });
        await server.AddUserAsync("alice", Password);
        using HttpClient proxy = server.CreateClient(Proxy);
        for (int i = 1; i <= 3; i++)
        {
            using HttpResponseMessage failed = await SendLoginAsync(proxy, $"guess{i}", Guess, ("X-Forwarded-For", "203.0.113.9"));
            await HttpAssert.OAuthErrorAsync(failed, HttpStatusCode.BadRequest, "invalid_grant");
        }

        using HttpResponseMessage guesser = await SendLoginAsync(proxy, "alice", Password, ("X-Forwarded-For", "203.0.113.9"));
        using HttpResponseMessage neighbour = await SendLoginAsync(proxy, "alice", Password, ("X-Forwarded-For", "203.0.113.10"));

        await HttpAssert.OAuthErrorAsync(guesser, HttpStatusCode.TooManyRequests, "slow_down");
        Assert.Equal(HttpStatusCode.OK, neighbour.StatusCode);
    }

    [Fact]
    public async Task Start_AspNetCoreForwardedHeadersEnabled_RefusedWithLatchkeyStartupException()
    {
        // What ASPNETCORE_FORWARDEDHEADERS_ENABLED=true sets, given as configuration so no other test sees it.
        string data = Directory.CreateTempSubdirectory("latchkey-test-").FullName;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Configuration[HttpEdge.FrameworkForwardedHeadersKey] = "true";
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddLatchkey(configure: o =>
        {
            o.Issuer = LatchkeyTestServer.Issuer;
            o.DataDirectory = data;
        });
        await using WebApplication app = builder.Build();
        app.MapLatchkey();

        try
        {
            var refused = await Assert.ThrowsAsync<LatchkeyStartupException>(() => app.StartAsync());

            Assert.Contains("unset ASPNETCORE_FORWARDEDHEADERS_ENABLED and list your proxies in Latchkey:TrustedProxies (LATCHKEY__TRUSTEDPROXIES__0=10.0.0.5)",
                refused.Message);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    private static Task<HttpResponseMessage> SendLoginAsync(HttpClient client, string username, string password, params (string Name, string Value)[] headers)
    {
        SecretsSeen.Record(password, "a password");
        var request = new HttpRequestMessage(HttpMethod.Post, "/token") { Content = LatchkeyTestServer.PasswordForm(username, password) };
        foreach ((string name, string value) in headers)
            request.Headers.TryAddWithoutValidation(name, value);
        return client.SendAsync(request);
    }

    /// <summary>Fails one login with <paramref name="headers"/>, and returns the address its audit event recorded.</summary>
    private static async Task<string?> FailedLoginAddressAsync(LatchkeyTestServer server, HttpClient client, params (string Name, string Value)[] headers)
    {
        string username = "nobody" + Guid.NewGuid().ToString("N")[..8];
        using HttpResponseMessage response = await SendLoginAsync(client, username, Guess, headers);
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
        IReadOnlyList<AuditEvent> events = await server.Services.GetRequiredService<IAuditLog>().ReadAsync(DateTimeOffset.MinValue, CancellationToken.None);
        return events.Last(e => e.Type == "login_failed").Address;
    }
}
