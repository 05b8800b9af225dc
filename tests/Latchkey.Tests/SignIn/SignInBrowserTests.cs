using Latchkey.Tests.Support;

namespace Latchkey.Tests.SignIn;

/// <summary>
/// The hosted pages as a person meets them, in Debian's chromium (tests/Interop/browser/signin.mjs): login (and its error),
/// consent, logout, signed out and the error page, each at 390x844 and 1280x800, with axe-core finding no serious or
/// critical violation, a visible keyboard focus, no sideways scrolling, and no CSP violation or script error. The
/// screenshots and axe.json stay under the test output (bin/…/screenshots/signin) for a person to look at.
/// </summary>
public sealed class SignInBrowserTests
{
    [Fact]
    public async Task HostedPages_AtPhoneAndDesktopSizes_SignInConsentLogout_AxeFindsNothingSerious()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.Branding.Name = "Acme Login");
        await server.AddUserAsync("alice", "correct horse battery");
        int callbackPort = LatchkeyTestServer.FreePort();
        await BrowserFlow.AddBrowserClientAsync(server, "photos", [$"http://127.0.0.1:{callbackPort}/callback"], firstParty: false, scopes: ["api"]);
        string output = BrowserScripts.OutputFolder("signin");

        (int exitCode, string stdout, string stderr) = await BrowserScripts.RunAsync("signin.mjs", server.BaseAddress.ToString(), "photos",
            callbackPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "alice", "correct horse battery", output);

        Assert.True(exitCode == 0, $"node signin.mjs exited with {exitCode}.\nstderr: {stderr}\nstdout: {stdout}\nscreenshots: {output}");
        foreach (string page in new[] { "login", "login-error", "consent", "logout", "signed-out", "error" })
        {
            foreach (string size in new[] { "phone", "desktop" })
            {
                var png = new FileInfo(Path.Combine(output, $"{page}-{size}.png"));
                Assert.True(png.Exists && png.Length > 5_000, $"no screenshot of {page} at {size} in {output}");
            }
        }

        Assert.Contains("\"callbacks\":2", stdout);
        Assert.True(File.Exists(Path.Combine(output, "axe.json")));
        // The product name is configurable, and the pages show it.
        Assert.Contains("Acme Login", await server.Client.GetStringAsync("/logout"));
    }
}
