using System.Net;
using System.Text.Json;
using Latchkey.Server.Tests.Support;
using Xunit;

namespace Latchkey.Server.Tests.Cli;

/// <summary>The admin commands change a data folder while a server runs on it, and the server sees the change at once.</summary>
public sealed class UsersWhileServingTests : IDisposable
{
    private const string Password = "carols-password-1";
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private async Task RunOkAsync(string[] arguments, string? stdin = null)
    {
        CliResult result = await LatchkeyCli.RunAsync([.. arguments, "--data-dir", _folder.Data], stdin, workingDirectory: _folder.Root);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    private static async Task AssertTokenIssuedAsync(HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using JsonDocument json = JsonDocument.Parse(body);
        Assert.Equal(3, json.RootElement.GetProperty("access_token").GetString()!.Split('.').Length);
        Assert.Equal("Bearer", json.RootElement.GetProperty("token_type").GetString());
    }

    private static async Task AssertInvalidGrantAsync(HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        Assert.True(response.Headers.CacheControl?.NoStore, "Cache-Control: no-store missing");
        using JsonDocument json = JsonDocument.Parse(body);
        Assert.Equal("invalid_grant", json.RootElement.GetProperty("error").GetString());
        Assert.False(json.RootElement.TryGetProperty("access_token", out _));
    }

    [Fact]
    public async Task UsersLogout_WhileServing_TheServerRefusesTheUsersTokensWithinTheRevocationInterval()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder, environment: new Dictionary<string, string?>
        {
            ["LATCHKEY__REVOCATIONREFRESHINTERVAL"] = "00:00:00.2",
        });
        await RunOkAsync(["users", "add", "carol", "--password-stdin"], Password + "\n");
        string token = await AccessTokenAsync(server, "carol", Password);
        Assert.Equal(HttpStatusCode.OK, await MeStatusAsync(server, token));

        await RunOkAsync(["users", "logout", "carol"]);

        // Bounded: the server re-reads the revocations every 0.2 s here.
        for (int i = 0; i < 100 && await MeStatusAsync(server, token) == HttpStatusCode.OK; i++)
            await Task.Delay(100);
        Assert.Equal(HttpStatusCode.Unauthorized, await MeStatusAsync(server, token));
        await Task.Delay(5); // a login in the same millisecond as the cut-off is refused too
        Assert.Equal(HttpStatusCode.OK, await MeStatusAsync(server, await AccessTokenAsync(server, "carol", Password)));
    }

    private static async Task<HttpStatusCode> MeStatusAsync(LatchkeyServer server, string token)
    {
        using HttpResponseMessage response = await GetAsync(server, "me", token);
        return response.StatusCode;
    }

    [Fact]
    public async Task UserAddedDisabledAndEnabled_WhileServing_TokenEndpointFollowsEachChange()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);

        await RunOkAsync(["users", "add", "carol", "--password-stdin"], Password + "\n");
        using (HttpResponseMessage response = await server.PasswordGrantAsync("carol", Password))
            await AssertTokenIssuedAsync(response);

        await RunOkAsync(["users", "disable", "carol"]);
        using (HttpResponseMessage response = await server.PasswordGrantAsync("carol", Password))
            await AssertInvalidGrantAsync(response);

        await RunOkAsync(["users", "enable", "carol"]);
        using (HttpResponseMessage response = await server.PasswordGrantAsync("carol", Password))
            await AssertTokenIssuedAsync(response);

        Assert.DoesNotContain(Password, server.Process.Output);
    }

    /// <summary>
    /// <c>serve</c> turns off ASP.NET Core's automatic default scheme (so /token skips the bearer handler): /me and the
    /// admin API still authenticate with the scheme their policies name, and still say 401 or 403 when they must.
    /// </summary>
    [Fact]
    public async Task BearerEndpoints_WhileServing_AuthenticateWithTheirOwnScheme()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);
        await RunOkAsync(["users", "add", "carol", "--password-stdin"], Password + "\n");
        await RunOkAsync(["users", "add", "ada", "--role", "admin", "--password-stdin"], "adas-password-1\n");
        string carol = await AccessTokenAsync(server, "carol", Password);
        string ada = await AccessTokenAsync(server, "ada", "adas-password-1", "latchkey:admin");

        using (HttpResponseMessage me = await GetAsync(server, "me", carol))
        {
            string body = await me.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            Assert.True(me.StatusCode == HttpStatusCode.OK, body);
            using JsonDocument json = JsonDocument.Parse(body);
            Assert.Equal("carol", json.RootElement.GetProperty("preferred_username").GetString());
        }

        using (HttpResponseMessage anonymous = await GetAsync(server, "me", bearer: null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("Bearer", Assert.Single(anonymous.Headers.WwwAuthenticate).Scheme);
        }

        using (HttpResponseMessage forged = await GetAsync(server, "me", carol[..^4] + "AAAA"))
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        using (HttpResponseMessage notAdmin = await GetAsync(server, "admin/users", carol))
            Assert.Equal(HttpStatusCode.Forbidden, notAdmin.StatusCode);
        using (HttpResponseMessage admin = await GetAsync(server, "admin/users", ada))
            Assert.True(admin.StatusCode == HttpStatusCode.OK, await admin.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    private static async Task<string> AccessTokenAsync(LatchkeyServer server, string username, string password, string? scope = null)
    {
        using HttpResponseMessage response = await server.PasswordGrantAsync(username, password, scope);
        await AssertTokenIssuedAsync(response);
        using JsonDocument json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        return json.RootElement.GetProperty("access_token").GetString()!;
    }

    private static Task<HttpResponseMessage> GetAsync(LatchkeyServer server, string path, string? bearer)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (bearer is not null)
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        return server.Http.SendAsync(request, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task SetPassword_WhileServing_OldPasswordRefusedNewOneAccepted()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);
        await RunOkAsync(["users", "add", "carol", "--password-stdin"], Password + "\n");

        await RunOkAsync(["users", "set-password", "carol", "--password-stdin"], "carols-new-password\n");

        using (HttpResponseMessage response = await server.PasswordGrantAsync("carol", Password))
            await AssertInvalidGrantAsync(response);
        using (HttpResponseMessage response = await server.PasswordGrantAsync("carol", "carols-new-password"))
            await AssertTokenIssuedAsync(response);
    }

    [Fact]
    public async Task Add_NonAsciiPasswordOnStdin_SamePasswordLogsInOverHttp()
    {
        const string unicodePassword = "pässwörd-ü€-日本";
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);

        await RunOkAsync(["users", "add", "carol", "--password-stdin"], unicodePassword + "\n");

        using (HttpResponseMessage response = await server.PasswordGrantAsync("carol", unicodePassword))
            await AssertTokenIssuedAsync(response);
        using (HttpResponseMessage response = await server.PasswordGrantAsync("carol", "p?ssw?rd-?-?-??"))
            await AssertInvalidGrantAsync(response);
    }

    [Fact]
    public async Task Add_MixedCaseName_LogsInWithAnyCasing()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);

        await RunOkAsync(["users", "add", "Carol", "--password-stdin"], Password + "\n");

        using HttpResponseMessage response = await server.PasswordGrantAsync("CAROL", Password);
        await AssertTokenIssuedAsync(response);
    }
}
