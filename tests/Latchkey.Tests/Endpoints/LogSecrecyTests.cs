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
}
