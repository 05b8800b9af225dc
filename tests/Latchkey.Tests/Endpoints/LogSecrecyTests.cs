using System.Net.Http.Headers;
using System.Text;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>Whatever happens, the log never holds a password or a whole token; it does say what happened.</summary>
public sealed class LogSecrecyTests
{
    [Fact]
    public async Task Logs_AfterLoginsFailuresAndTokenUse_HoldNoPasswordOrToken()
    {
        const string password = "s3cret-Pa55word-4-logs";
        const string wrongPassword = "wr0ng-Pa55word-4-logs";
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", password, "admin");

        string token = await server.GetAccessTokenAsync("alice", password);
        (await server.PostTokenAsync("alice", wrongPassword)).Dispose();
        (await server.PostTokenAsync(wrongPassword, password)).Dispose(); // a password typed into the username field
        var basic = new HttpRequestMessage(HttpMethod.Get, "/token");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"alice:{password}")));
        (await server.Client.SendAsync(basic)).Dispose();
        (await server.GetWithBearerAsync("/me", token)).Dispose();
        (await server.GetWithBearerAsync("/admin/users", token)).Dispose();
        (await server.GetWithBearerAsync("/me", token[..^3] + "AAA")).Dispose();

        string log = string.Join("\n", server.Logs);
        Assert.Contains("Login failed for alice", log);
        Assert.Contains("Issued access token", log);
        Assert.DoesNotContain(password, log);
        Assert.DoesNotContain(wrongPassword, log);
        Assert.Contains("Login failed for unknown#", log);
        Assert.DoesNotContain("argon2id", log);
        Assert.DoesNotContain(token.Split('.')[2], log);
        Assert.DoesNotContain(token.Split('.')[1], log);
    }

    [Fact]
    public void SecretsSeen_ALoggedSignature_FailsTheCheckSayingWhatLeakedWithoutRepeatingIt()
    {
        string signature = "sig" + Guid.NewGuid().ToString("N");
        SecretsSeen.RecordToken("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0." + signature);

        Exception e = Assert.ThrowsAny<Exception>(() => SecretsSeen.AssertNoneIn($"Information Latchkey[3001] refused\nDebug x[0] token {signature} seen\nmore"));

        Assert.Contains("an access token's signature", e.Message);
        Assert.Contains("Debug x[0] token <an access token's signature> seen", e.Message);
        Assert.DoesNotContain(signature, e.Message);
        SecretsSeen.AssertNoneIn("Information Latchkey[3001] refused " + signature[..^1]);
    }

    [Fact]
    public async Task SecretsSeen_TokensAndSecretsThroughTheTestServer_AreRecorded()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", "recorded-Pa55word-1");
        string clientSecret = await server.AddClientAsync("svc", ["client_credentials"]);
        (string access, string refresh) = await server.LoginAsync("alice", "recorded-Pa55word-1");

        // Each would fail a server's dispose check if it were logged.
        foreach (string leaked in new[] { access.Split('.')[2], refresh["lk_rt_".Length..], clientSecret, "recorded-Pa55word-1" })
            Assert.ThrowsAny<Exception>(() => SecretsSeen.AssertNoneIn("Information x[0] " + leaked));
    }
}

