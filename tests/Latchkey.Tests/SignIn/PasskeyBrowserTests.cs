using Latchkey.Tests.Support;

namespace Latchkey.Tests.SignIn;

/// <summary>
/// Passkeys as a person meets them, in Debian's chromium with a virtual authenticator (tests/Interop/browser/passkey.mjs):
/// "Add a passkey" on the account page, "Sign in with a passkey", the passkey offered in the username field, the passkey as
/// the second factor, a step-up to <c>phr</c>; and the bad inputs (a replayed answer, another origin and relying party id,
/// another user's passkey, a counter that went back), each refused on the page. The server's issuer is
/// <c>http://localhost:PORT</c>, its relying party id <c>localhost</c>; <c>evil.localhost</c> reaches the same server as
/// another site. Screenshots stay under bin/…/screenshots/passkeys for a person to look at.
/// </summary>
public sealed class PasskeyBrowserTests
{
    [Fact]
    public async Task Passkeys_AddedThenSignInAloneInTheUsernameFieldAndAsTheSecondFactor_BadInputsRefused_AtPhoneAndDesktopSizes()
    {
        const string password = "correct horse battery";
        // A clock that moves a millisecond at each reading, as real time does: the first passkey of an account ends its other
        // sessions as of that instant, and a clock standing still would refuse the next sign-in as begun before it.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow) { AutoAdvanceAmount = TimeSpan.FromMilliseconds(1) };
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(time: time, issuerIsBaseAddress: true, host: "localhost");
        await server.AddUserAsync("carol1", password);
        await server.AddUserAsync("carol2", password);
        int callbackPort = LatchkeyTestServer.FreePort();
        await BrowserFlow.AddBrowserClientAsync(server, "photos", [$"http://127.0.0.1:{callbackPort}/callback"]);
        string output = BrowserScripts.OutputFolder("passkeys");
        string otherOrigin = $"http://evil.localhost:{server.BaseAddress.Port}";

        (int exitCode, string stdout, string stderr) = await BrowserScripts.RunAsync("passkey.mjs", server.BaseAddress.ToString(), otherOrigin, "photos",
            callbackPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "carol", password, output);

        Assert.True(exitCode == 0, $"node passkey.mjs exited with {exitCode}.\nstderr: {stderr}\nstdout: {stdout}\nscreenshots: {output}");
        foreach (string page in new[] { "account-no-passkey", "passkey-added", "login-with-passkey", "second-factor-passkey", "step-up", "passkey-refused" })
        {
            foreach (string size in new[] { "phone", "desktop" })
            {
                var png = new FileInfo(Path.Combine(output, $"{page}-{size}.png"));
                Assert.True(png.Exists && png.Length > 5_000, $"no screenshot of {page} at {size} in {output}");
            }
        }

        // Each flow reached the app with a code at both sizes: the button, the username field, after the password, the step-up.
        using var summary = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal(new Dictionary<string, int> { ["conditional mediation"] = 2, ["passkey button"] = 2, ["second factor"] = 2, ["recovery code"] = 2, ["step-up"] = 2 },
            summary.RootElement.GetProperty("flows").EnumerateObject().ToDictionary(f => f.Name, f => f.Value.GetInt32()));
        Assert.Equal(2L, await server.ScalarAsync("SELECT COUNT(*) FROM passkeys"));
        // Every refusal was audited: the replay and the other origin at both sizes, another user's passkey, the counters.
        Assert.True(Convert.ToInt64(await server.ScalarAsync("SELECT COUNT(*) FROM audit_events WHERE type = 'factor_failed'"), System.Globalization.CultureInfo.InvariantCulture) >= 7);
    }
}
