using System.Net;
using Latchkey.Accounts;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>RFC 6749 §4.3.2 brute-force protection, over HTTP, with the clock moved on both sides of each boundary.</summary>
public sealed class LoginThrottleTests
{
    private const string Password = "correct horse battery";

    [Fact]
    public void Options_Defaults_AreTenPerUserAndAddressFiftyPerUserAndHundredPerAddressInFifteenMinutes()
    {
        var options = new LoginThrottleOptions();

        Assert.Equal(10, options.FailureThreshold);
        Assert.Equal((50, TimeSpan.FromMinutes(15), TimeSpan.FromDays(30)), (options.UsernameFailureThreshold, options.UsernameWindow, options.KnownAddressLifetime));
        Assert.Equal(100, options.AddressFailureThreshold);
        Assert.Equal(TimeSpan.FromMinutes(15), options.AddressWindow);
    }

    [Fact]
    public async Task Pair_TenFailuresFromOneAddress_DoNotLockTheOwnerOutFromAnother()
    {
        // Anyone could otherwise keep any account locked with one request every few minutes.
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", Password);
        using HttpClient attacker = server.CreateClient("127.0.0.2");
        await FailAsync(server, "alice", 10, attacker);
        using (HttpResponseMessage locked = await server.PostTokenAsync("alice", Password, client: attacker))
            await HttpAssert.OAuthErrorAsync(locked, HttpStatusCode.TooManyRequests, "slow_down");

        using HttpResponseMessage owner = await server.PostTokenAsync("alice", Password);

        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
    }

    [Fact]
    public async Task Username_GuessesSpreadOverManyAddresses_LockItEverywhereButWhereItsOwnerLoggedIn()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.LoginThrottle.UsernameFailureThreshold = 6);
        await server.AddUserAsync("alice", Password);
        await server.GetAccessTokenAsync("alice", Password); // from 127.0.0.1: an address alice logs in from
        for (int i = 0; i < 6; i++)
        {
            using HttpClient guesser = server.CreateClient($"127.0.1.{i + 1}");
            await FailAsync(server, "alice", 1, guesser); // one guess per address: never a pair's lock
        }

        using HttpClient newAddress = server.CreateClient("127.0.2.1");
        using HttpResponseMessage elsewhere = await server.PostTokenAsync("alice", Password, client: newAddress);
        await HttpAssert.OAuthErrorAsync(elsewhere, HttpStatusCode.TooManyRequests, "slow_down");
        Assert.Equal(TimeSpan.FromMinutes(15), elsewhere.Headers.RetryAfter?.Delta);

        using HttpResponseMessage owner = await server.PostTokenAsync("alice", Password);
        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
        // The window slides: once the guesses are older than it, every address may try again.
        server.Time.Advance(TimeSpan.FromMinutes(15));
        using HttpResponseMessage later = await server.PostTokenAsync("alice", Password, client: newAddress);
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public async Task Username_KnownAddress_StopsBeingKnownAfterItsLifetime()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.LoginThrottle.UsernameFailureThreshold = 3;
            o.LoginThrottle.KnownAddressLifetime = TimeSpan.FromDays(1);
        });
        await server.AddUserAsync("alice", Password);
        await server.GetAccessTokenAsync("alice", Password);
        server.Time.Advance(TimeSpan.FromDays(1));
        for (int i = 0; i < 3; i++)
        {
            using HttpClient guesser = server.CreateClient($"127.0.1.{i + 1}");
            await FailAsync(server, "alice", 1, guesser);
        }

        using HttpResponseMessage owner = await server.PostTokenAsync("alice", Password);

        await HttpAssert.OAuthErrorAsync(owner, HttpStatusCode.TooManyRequests, "slow_down");
    }

    [Fact]
    public async Task Locked_RefusedAttempts_CostNoAuditEventOrLogLineEach()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", Password);
        await FailAsync(server, "alice", 10);
        int auditEvents = (await server.Services.GetRequiredService<Latchkey.Storage.IAuditLog>().ReadAsync(DateTimeOffset.MinValue, CancellationToken.None)).Count;
        int logged = server.Logs.Count;

        for (int i = 0; i < 20; i++)
        {
            using HttpResponseMessage refused = await server.PostTokenAsync("alice", Password);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }

        Assert.Equal(auditEvents, (await server.Services.GetRequiredService<Latchkey.Storage.IAuditLog>().ReadAsync(DateTimeOffset.MinValue, CancellationToken.None)).Count);
        // Each refusal writes the OAuth error's line (1001, as every refused token request does); Latchkey writes nothing else above Debug.
        string[] latchkeyLines = server.Logs.Skip(logged)
            .Where(l => !l.StartsWith("Debug", StringComparison.Ordinal) && l.Split(' ')[1].StartsWith("Latchkey", StringComparison.Ordinal)).ToArray();
        Assert.Equal(20, latchkeyLines.Length);
        Assert.All(latchkeyLines, l => Assert.Contains("[1001] Token request refused: slow_down", l));
    }

    [Fact]
    public async Task User_NineFailures_TenthAttemptIsStillChecked()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", Password);
        await FailAsync(server, "alice", 9);

        await server.GetAccessTokenAsync("alice", Password);
    }

    [Fact]
    public async Task User_TenthConsecutiveFailure_LocksEvenTheRightPasswordWith429()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", Password);
        await FailAsync(server, "alice", 10);

        using HttpResponseMessage response = await server.PostTokenAsync("alice", Password);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.TooManyRequests, "slow_down");
        Assert.Equal(TimeSpan.FromSeconds(30), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task User_TwentyGuessesAtOnce_OnlyTheThresholdIsTestedAndTheRestAre429()
    {
        // Every guess is counted before its password is checked: sent together, they cannot all slip past the check.
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.PasswordHashing.MaxQueue = 64; // no 503 for being busy: this test is about the throttle
            o.PasswordHashing.MaxWait = TimeSpan.FromSeconds(30);
        });
        await server.AddUserAsync("alice", Password);

        HttpResponseMessage[] responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => server.PostTokenAsync("alice", "wrong guess " + i)));

        int tested = responses.Count(r => r.StatusCode == HttpStatusCode.BadRequest);
        int refused = responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.Equal(20, tested + refused);
        Assert.Equal(10, tested);
        foreach (HttpResponseMessage response in responses)
            response.Dispose();
        using HttpResponseMessage right = await server.PostTokenAsync("alice", Password);
        await HttpAssert.OAuthErrorAsync(right, HttpStatusCode.TooManyRequests, "slow_down");
    }

    [Fact]
    public async Task User_Lockout_EndsAfterItsTimeAndSuccessResetsTheCount()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", Password);
        await FailAsync(server, "alice", 10);

        server.Time.Advance(TimeSpan.FromSeconds(29));
        using (HttpResponseMessage stillLocked = await server.PostTokenAsync("alice", Password))
            Assert.Equal(HttpStatusCode.TooManyRequests, stillLocked.StatusCode);

        server.Time.Advance(TimeSpan.FromSeconds(1));
        await server.GetAccessTokenAsync("alice", Password);

        // The success reset the count: nine more failures do not lock.
        await FailAsync(server, "alice", 9);
        await server.GetAccessTokenAsync("alice", Password);
    }

    [Fact]
    public async Task User_FurtherFailures_DoubleTheLockout()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", Password);
        await FailAsync(server, "alice", 10);
        server.Time.Advance(TimeSpan.FromSeconds(30));

        await FailAsync(server, "alice", 1); // the 11th consecutive failure

        using HttpResponseMessage response = await server.PostTokenAsync("alice", Password);
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(60), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task User_LockedAccount_DoesNotLockOtherUsersOnTheSameAddress()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", Password);
        await server.AddUserAsync("bob", Password);
        await FailAsync(server, "alice", 10);
        using (HttpResponseMessage locked = await server.PostTokenAsync("alice", Password))
            Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);

        await server.GetAccessTokenAsync("bob", Password);
    }

    [Fact]
    public async Task User_UnknownUsername_IsThrottledLikeAKnownOne()
    {
        // Otherwise the 429 (or its absence) would reveal which accounts exist.
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await FailAsync(server, "ghost", 10);

        using HttpResponseMessage response = await server.PostTokenAsync("ghost", Password);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.TooManyRequests, "slow_down");
    }

    [Fact]
    public async Task User_UsernameCase_DoesNotEscapeTheCount()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", Password);
        await FailAsync(server, "alice", 5);
        await FailAsync(server, "ALICE", 5);

        using HttpResponseMessage response = await server.PostTokenAsync("Alice", Password);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
    }

    [Fact]
    public async Task Address_ThresholdFailuresAcrossUsernames_BlocksThatAddressOnly()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.LoginThrottle.AddressFailureThreshold = 20);
        await server.AddUserAsync("alice", Password);
        for (int i = 0; i < 20; i++)
            await FailAsync(server, $"guess{i}", 1); // one failure per name: never a per-user lock

        using HttpResponseMessage blocked = await server.PostTokenAsync("alice", Password);
        await HttpAssert.OAuthErrorAsync(blocked, HttpStatusCode.TooManyRequests, "slow_down");
        Assert.Equal(TimeSpan.FromMinutes(15), blocked.Headers.RetryAfter?.Delta);

        using HttpClient otherAddress = server.CreateClient("127.0.0.2");
        using HttpResponseMessage elsewhere = await server.PostTokenAsync("alice", Password, client: otherAddress);
        Assert.Equal(HttpStatusCode.OK, elsewhere.StatusCode);
    }

    [Fact]
    public async Task Address_WindowSlides_OldFailuresStopCounting()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.LoginThrottle.AddressFailureThreshold = 20);
        await server.AddUserAsync("alice", Password);
        for (int i = 0; i < 20; i++)
            await FailAsync(server, $"guess{i}", 1);

        server.Time.Advance(TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(1));
        using (HttpResponseMessage stillBlocked = await server.PostTokenAsync("alice", Password))
            Assert.Equal(HttpStatusCode.TooManyRequests, stillBlocked.StatusCode);

        server.Time.Advance(TimeSpan.FromSeconds(1));
        await server.GetAccessTokenAsync("alice", Password);
    }

    private static async Task FailAsync(LatchkeyTestServer server, string username, int times, HttpClient? client = null)
    {
        for (int i = 0; i < times; i++)
        {
            using HttpResponseMessage response = await server.PostTokenAsync(username, "wrong password " + i, client: client);
            await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
        }
    }
}
