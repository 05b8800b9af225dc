using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Latchkey.Testing;
using Latchkey.Tests.Interop;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Samples;

/// <summary>
/// samples/fastapi-webapp, "Sign in with Latchkey" in the seed tutorial's framework with Debian's python3-authlib (its
/// OpenID Connect client: PKCE, nonce, the id token checked against the JWKS), in Debian's chromium
/// (tests/Interop/browser/webapp.mjs): sign in through the login page, the claims, sign out through end_session_endpoint.
/// </summary>
public sealed partial class FastApiWebAppSampleTests
{
    private const string Python = "/usr/bin/python3";
    private const string Install = "apt-get install python3-fastapi python3-uvicorn python3-authlib python3-itsdangerous python3-httpx";

    [Fact]
    public async Task FastApiWebApp_SignsInWithAuthlib_ShowsTheClaims_SignsOutThroughLatchkey()
    {
        DebianPython.Result check = await DebianPython.ExecuteAsync("import fastapi, uvicorn, authlib, itsdangerous, httpx", []);
        Assert.True(check.ExitCode == 0, $"A package of the sample is missing from {Python}: {Install}\n{check.StandardError}");
        await using LatchkeyTestServer latchkey = await LatchkeyTestServer.StartAsync(issuerIsBaseAddress: true);
        string issuer = latchkey.BaseAddress.GetLeftPart(UriPartial.Authority);
        await latchkey.AddUserAsync("alice", "correct horse battery");
        int port = LatchkeyTestServer.FreePort();
        string app = $"http://127.0.0.1:{port}";
        string secret = (await BrowserFlow.AddBrowserClientAsync(latchkey, "fastapi-webapp", [app + "/auth"], postLogoutRedirectUris: [app + "/"]))!;
        await using ListeningProcess web = await ListeningProcess.StartAsync(Python,
            ["-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture)],
            new ListeningProcessOptions
            {
                WorkingDirectory = Path.Combine(BrowserScripts.RepositoryRoot(), "samples", "fastapi-webapp"),
                ListeningLine = UvicornRunning(),
                StartupTimeout = TimeSpan.FromSeconds(30),
                Environment = new Dictionary<string, string?>
                {
                    ["LATCHKEY_AUTHORITY"] = issuer,
                    ["LATCHKEY_CLIENT_ID"] = "fastapi-webapp",
                    ["LATCHKEY_CLIENT_SECRET"] = secret,
                    ["PYTHONUNBUFFERED"] = "1",
                    ["PYTHONPATH"] = null,
                    ["PYTHONHOME"] = null,
                    ["VIRTUAL_ENV"] = null,
                },
            }, TestContext.Current.CancellationToken);

        (int exitCode, string stdout, string stderr) = await BrowserScripts.RunAsync("webapp.mjs", app, "alice", "correct horse battery",
            BrowserScripts.OutputFolder("fastapi-webapp"), "fastapi-webapp");

        Assert.True(exitCode == 0, $"node webapp.mjs exited with {exitCode}.\nstderr: {stderr}\nstdout: {stdout}\napp: {web.Output}");
        JsonElement result = JsonDocument.Parse(stdout).RootElement;
        Assert.StartsWith(issuer + "/authorize?", result.GetProperty("loginPage").GetString());
        Assert.Equal("alice", result.GetProperty("signedInAs").GetString());
        Assert.Subset(new HashSet<string>(result.GetProperty("claims").EnumerateArray().Select(c => c.GetString()!)),
            new HashSet<string> { "iss", "sub", "aud", "nonce", "sid", "at_hash", "preferred_username" });
        Assert.Equal(app + "/", result.GetProperty("afterSignOut").GetString());
        Assert.True(result.GetProperty("loginAgain").GetBoolean());
    }

    [GeneratedRegex(@"Uvicorn running on (?<url>https?://\S+)")]
    private static partial Regex UvicornRunning();
}
