using System.Globalization;
using System.Text.Json;
using Latchkey.Accounts;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Interop;

/// <summary>
/// Latchkey as panva's openid-client 6 (a certified relying-party library) meets it: discovery, the code flow with PKCE,
/// state and nonce through the login page in chromium, the library's id token checks, /userinfo, a refresh, and logout
/// (tests/Interop/node/openid-client.mjs).
/// </summary>
public sealed class OpenIdClientTests
{
    [Fact]
    public async Task OpenIdClient_SignsInThroughTheLoginPage_ChecksTheIdToken_ReadsUserInfo_Refreshes_LogsOut()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(issuerIsBaseAddress: true);
        await server.AddUserAsync("alice", "correct horse battery");
        Assert.True((await server.Services.GetRequiredService<UserAccounts>().SetProfileAsync("alice",
            new UserProfile("alice@example.com", "Alice Liddell", EmailVerified: true), "test", CancellationToken.None)).Succeeded);
        int port = LatchkeyTestServer.FreePort();
        string secret = (await BrowserFlow.AddBrowserClientAsync(server, "node-rp", [$"http://127.0.0.1:{port}/callback"],
            postLogoutRedirectUris: [$"http://127.0.0.1:{port}/signed-out"]))!;

        (int exitCode, string stdout, string stderr) = await BrowserScripts.RunRelyingPartyAsync("openid-client.mjs", server.BaseAddress.ToString().TrimEnd('/'),
            "node-rp", secret, port.ToString(CultureInfo.InvariantCulture), "alice", "correct horse battery");

        Assert.True(exitCode == 0, $"node openid-client.mjs exited with {exitCode}.\nstderr: {stderr}\nstdout: {stdout}");
        JsonElement result = JsonDocument.Parse(stdout).RootElement;
        Assert.True(result.GetProperty("nonceMatched").GetBoolean());
        Assert.Equal("alice", result.GetProperty("preferred_username").GetString());
        Assert.Equal("alice@example.com", result.GetProperty("email").GetString());
        string[] claims = result.GetProperty("idTokenClaims").EnumerateArray().Select(c => c.GetString()!).ToArray();
        Assert.Subset(new HashSet<string>(claims), new HashSet<string> { "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "at_hash" });
        JsonElement userinfo = result.GetProperty("userinfo");
        Assert.Equal(result.GetProperty("sub").GetString(), userinfo.GetProperty("sub").GetString());
        Assert.Equal("Alice Liddell", userinfo.GetProperty("name").GetString());
        Assert.True(result.GetProperty("refreshed").GetProperty("rotated").GetBoolean());
        Assert.Equal($"http://127.0.0.1:{port}/signed-out?state=bye", result.GetProperty("logoutReturn").GetString());
        Assert.Equal("login_required", result.GetProperty("silentAfterLogout").GetString());
    }
}
