using Latchkey.Tests.Support;

namespace Latchkey.Tests.SignIn;

/// <summary>
/// A second factor as a person meets it, in Debian's chromium (tests/Interop/browser/mfa.mjs): the account page, setting up
/// an authenticator app (its code computed from the key on the page), the recovery codes, then a sign-in with the code page,
/// a wrong code and a recovery code; the bad inputs (a code used already, two steps off, a form without its antiforgery token,
/// a recovery code used twice, guessing until the throttle engages); each page at 390x844 and 1280x800, axe-core finding no
/// serious or critical violation.
/// The screenshots stay under bin/…/screenshots/mfa for a person to look at.
/// </summary>
public sealed class SecondFactorBrowserTests
{
    [Fact]
    public async Task AuthenticatorApp_SetUpOnTheAccountPage_ThenASignInWithARecoveryCode_AtPhoneAndDesktopSizes()
    {
        const string password = "correct horse battery";
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice1", password);
        await server.AddUserAsync("alice2", password);
        int callbackPort = LatchkeyTestServer.FreePort();
        await BrowserFlow.AddBrowserClientAsync(server, "photos", [$"http://127.0.0.1:{callbackPort}/callback"]);
        string output = BrowserScripts.OutputFolder("mfa");
        // The server's clock stands still in tests: the script computes its codes at this time.
        string serverSeconds = server.Time.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

        (int exitCode, string stdout, string stderr) = await BrowserScripts.RunAsync("mfa.mjs", server.BaseAddress.ToString(), "photos",
            callbackPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "alice", password, serverSeconds, output);

        Assert.True(exitCode == 0, $"node mfa.mjs exited with {exitCode}.\nstderr: {stderr}\nstdout: {stdout}\nscreenshots: {output}");
        foreach (string page in new[] { "account-login", "account", "account-enrol", "account-recovery-codes", "code", "code-error" })
        {
            foreach (string size in new[] { "phone", "desktop" })
            {
                var png = new FileInfo(Path.Combine(output, $"{page}-{size}.png"));
                Assert.True(png.Exists && png.Length > 5_000, $"no screenshot of {page} at {size} in {output}");
            }
        }

        Assert.Contains("\"callbacks\":2", stdout);
        // Guessing codes met "Too many attempts" by the 10th wrong one in a row, at both sizes.
        using var summary = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.All(summary.RootElement.GetProperty("throttledAfter").EnumerateObject(), size => Assert.InRange(size.Value.GetInt32(), 1, 10));
        Assert.Equal(2L, await server.ScalarAsync("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NOT NULL"));
    }
}
