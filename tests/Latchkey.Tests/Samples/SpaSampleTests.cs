using System.Globalization;
using System.Text.Json;
using Latchkey.Testing;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Samples;

/// <summary>
/// samples/spa, a single-page app on oauth4webapi (a public client: PKCE, no secret), in Debian's chromium
/// (tests/Interop/browser/spa.mjs): it signs in through the login page and consent, then exchanges the code and calls
/// /userinfo from the page itself, cross-origin, which only CORS for its registered origin allows.
/// </summary>
public sealed class SpaSampleTests
{
    [Fact]
    public async Task Spa_PublicClientWithPkce_SignsIn_ExchangesTheCodeAndCallsUserInfoCrossOrigin()
    {
        await using LatchkeyTestServer latchkey = await LatchkeyTestServer.StartAsync(issuerIsBaseAddress: true);
        string issuer = latchkey.BaseAddress.GetLeftPart(UriPartial.Authority);
        await latchkey.AddUserAsync("alice", "correct horse battery");
        int port = LatchkeyTestServer.FreePort();
        await BrowserFlow.AddBrowserClientAsync(latchkey, "spa", [$"http://127.0.0.1:{port}/"], isPublic: true);
        string sample = Path.Combine(BrowserScripts.RepositoryRoot(), "samples", "spa");
        Assert.True(File.Exists(Path.Combine(sample, "node_modules", "oauth4webapi", "build", "index.js")),
            "npm `oauth4webapi` is not installed in samples/spa: run `npm ci --prefix samples/spa` (tests/run.sh does).");
        await using ListeningProcess spa = await ListeningProcess.StartAsync("node",
            [Path.Combine(sample, "serve.mjs"), "--port", port.ToString(CultureInfo.InvariantCulture), "--issuer", issuer, "--client-id", "spa"],
            new ListeningProcessOptions { WorkingDirectory = sample }, TestContext.Current.CancellationToken);

        (int exitCode, string stdout, string stderr) = await BrowserScripts.RunAsync("spa.mjs", spa.BaseAddress.ToString(), "alice", "correct horse battery",
            BrowserScripts.OutputFolder("spa"));

        Assert.True(exitCode == 0, $"node spa.mjs exited with {exitCode}.\nstderr: {stderr}\nstdout: {stdout}\nspa: {spa.Output}");
        JsonElement result = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("Signed in as alice.", result.GetProperty("status").GetString());
        Assert.Equal($"http://127.0.0.1:{port}/", result.GetProperty("address").GetString()); // the code left the address bar
        Assert.Equal("spa", result.GetProperty("claims").GetProperty("aud").GetString());
        Assert.Equal(result.GetProperty("claims").GetProperty("sub").GetString(), result.GetProperty("userinfo").GetProperty("sub").GetString());
    }
}
