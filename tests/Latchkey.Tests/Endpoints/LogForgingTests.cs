using System.Net;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>
/// A value a client sends can never start a log entry of its own (CWE-117): line breaks and ESC reach the log and the
/// audit trail as visible escapes, every entry stays one line.
/// </summary>
public sealed class LogForgingTests
{
    /// <summary>What an attacker would like the next log line to say.</summary>
    private const string Forged = "Information Latchkey.Audit.AuditTrail[5001] Audit login_succeeded success: actor -, subject admin";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Token_ClientIdWithANewlineAndAForgedEntry_IsLoggedEscapedOnOneLine(bool viaBasic)
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        const string clientId = "evil\n" + Forged;
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
        if (!viaBasic)
        {
            form["client_id"] = clientId;
            form["client_secret"] = "wrong-secret";
        }

        using HttpResponseMessage response = await server.PostFormAsync("/token", form, basic: viaBasic ? (clientId, "wrong-secret") : null);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
        AssertEveryEntryIsOneLine(server);
        Assert.Contains(server.Logs, entry => entry.Contains(@"unknown client 'evil\n" + Forged + "'", StringComparison.Ordinal));
        Assert.DoesNotContain(string.Join("\n", server.Logs).Split('\n'), line => line.StartsWith(Forged, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Token_UsernameWithANewlineAndEscOnAFailedLogin_LogAndAuditRowHoldNeither()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        const string username = "mallory\n" + Forged + "\u001B[2J";

        using HttpResponseMessage response = await server.PostTokenAsync(username, "wrong-Pa55word-forging");

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
        AssertEveryEntryIsOneLine(server);
        // An unknown name is never logged as typed (it may be a password in the wrong field), only as a hash prefix.
        Assert.Contains(server.Logs, entry => entry.Contains("Login failed for unknown#", StringComparison.Ordinal));
        AuditEvent failed = Assert.Single(await server.Services.GetRequiredService<IAuditLog>().ReadAsync(DateTimeOffset.MinValue, CancellationToken.None));
        Assert.Equal("login_failed", failed.Type);
        Assert.StartsWith("unknown#", failed.Subject);
        foreach (string? field in new[] { failed.Type, failed.Outcome, failed.Actor, failed.Subject, failed.ClientId, failed.Address, failed.Detail })
            Assert.False(field?.Any(char.IsControl) ?? false, $"audit field '{field}' holds a control character");
    }

    private static void AssertEveryEntryIsOneLine(LatchkeyTestServer server)
    {
        foreach (string entry in server.Logs)
        {
            Assert.False(entry.Contains('\n') || entry.Contains('\r'), $"a log entry spans lines: {entry}");
            Assert.DoesNotContain('\u001B', entry);
        }
    }
}
