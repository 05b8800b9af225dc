using System.Globalization;
using System.Text.Json;
using Latchkey.Accounts;
using Latchkey.Testing;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Samples;

/// <summary>
/// samples/WebApp as a newcomer meets it: ASP.NET Core's stock OpenID Connect handler against Latchkey, in Debian's chromium
/// (tests/Interop/browser/webapp.mjs): sign in through the login page, the id token's claims, a call to samples/ProtectedApi
/// with the access token, sign out through end_session_endpoint, and the login page again. Three real processes over HTTP.
/// </summary>
public sealed class WebAppSampleTests
{
    private const string Password = "correct horse battery";

    [Fact]
    public async Task WebApp_SignsInWithTheOpenIdConnectHandler_CallsTheApi_SignsOutThroughLatchkey()
    {
        await using LatchkeyTestServer latchkey = await LatchkeyTestServer.StartAsync(issuerIsBaseAddress: true);
        string issuer = latchkey.BaseAddress.GetLeftPart(UriPartial.Authority);
        await latchkey.AddUserAsync("alice", Password);
        Assert.True((await latchkey.Services.GetRequiredService<UserAccounts>().SetProfileAsync("alice",
            new UserProfile("alice@example.com", "Alice Liddell", EmailVerified: true), "test", CancellationToken.None)).Succeeded);
        int port = LatchkeyTestServer.FreePort();
        string webApp = $"http://127.0.0.1:{port}";
        string secret = (await BrowserFlow.AddBrowserClientAsync(latchkey, "webapp", [webApp + "/signin-oidc"],
            postLogoutRedirectUris: [webApp + "/signout-callback-oidc"]))!;

        var environment = new Dictionary<string, string?> { ["ASPNETCORE_URLS"] = null, ["ASPNETCORE_ENVIRONMENT"] = "Production" };
        await using ListeningProcess api = await ListeningProcess.StartDotnetAsync(Dll("ProtectedApi"),
            ["--urls", "http://127.0.0.1:0", "--Latchkey:Authority", issuer, "--Latchkey:Audience", "api"],
            new ListeningProcessOptions { WorkingDirectory = AppContext.BaseDirectory, Environment = environment }, TestContext.Current.CancellationToken);
        await using ListeningProcess app = await ListeningProcess.StartDotnetAsync(Dll("WebApp"),
            ["--urls", webApp, "--Latchkey:Authority", issuer, "--Latchkey:ClientId", "webapp", "--Latchkey:ClientSecret", secret,
                "--Api:BaseAddress", api.BaseAddress.ToString()],
            new ListeningProcessOptions { WorkingDirectory = AppContext.BaseDirectory, Environment = environment }, TestContext.Current.CancellationToken);
        string output = BrowserScripts.OutputFolder("webapp");

        (int exitCode, string stdout, string stderr) = await BrowserScripts.RunAsync("webapp.mjs", webApp, "alice", Password, output);

        Assert.True(exitCode == 0, $"node webapp.mjs exited with {exitCode}.\nstderr: {stderr}\nstdout: {stdout}\nWebApp:\n{app.Output}\nProtectedApi:\n{api.Output}");
        JsonElement result = JsonDocument.Parse(stdout).RootElement;
        Assert.StartsWith(issuer + "/authorize?", result.GetProperty("loginPage").GetString());
        Assert.Equal("alice", result.GetProperty("signedInAs").GetString());
        string[] claims = result.GetProperty("claims").EnumerateArray().Select(c => c.GetString()!).ToArray();
        Assert.Subset(new HashSet<string>(claims), new HashSet<string> { "sub", "preferred_username", "name", "email", "sid", "auth_time", "amr", "acr" });
        Assert.Equal("pwd", result.GetProperty("amr").GetString()); // the page says how the user signed in
        Assert.Equal("200", result.GetProperty("apiStatus").GetString());
        Assert.Contains("\"name\":\"alice\"", result.GetProperty("apiBody").GetString());
        Assert.Equal(webApp + "/", result.GetProperty("afterSignOut").GetString());
        Assert.True(result.GetProperty("loginAgain").GetBoolean());
        Assert.True(File.Exists(Path.Combine(output, "webapp-signed-in.png")));
    }

    private static string Dll(string name)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, name + ".dll");
        Assert.True(File.Exists(dll) && File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")),
            $"{name}.dll (with its runtimeconfig) was not copied to {AppContext.BaseDirectory}; check the {name} ProjectReference.");
        return dll;
    }
}
