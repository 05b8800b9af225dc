using System.Text.Json;
using Latchkey.Server.Tests.Support;

namespace Latchkey.Server.Tests.Cli;

/// <summary><c>latchkey keys list|rotate|retire</c>, and a running server picking their changes up by itself.</summary>
public sealed class KeysCommandTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private Task<CliResult> RunAsync(params string[] args) => LatchkeyCli.RunAsync([.. args, "--data-dir", _folder.Data]);

    [Fact]
    public async Task Keys_RotateThenList_ShowsTheNewKeyPending_AndRetireOfTheOnlySignerIsRefused()
    {
        CliResult rotated = await RunAsync("keys", "rotate", "--algorithm", "EdDSA");
        Assert.True(rotated.ExitCode == 0, rotated.ToString());
        CliResult list = await RunAsync("keys", "list");
        Assert.Contains("EdDSA", list.Stdout);
        Assert.Contains("pending", list.Stdout);

        string pendingKid = list.Stdout.Split('\n').Single(l => l.Contains("pending")).Split(' ')[0];
        CliResult refused = await RunAsync("keys", "retire", pendingKid);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("rotate", refused.Stderr);
    }

    [Fact]
    public async Task Keys_RotateWithHmacAlgorithm_IsRefused()
    {
        CliResult result = await RunAsync("keys", "rotate", "--algorithm", "HS256");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("HS256", result.Stderr);
    }

    [Fact]
    public async Task Keys_RetireUnknownKid_Exit2()
    {
        CliResult result = await RunAsync("keys", "retire", "no-such-kid");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("no-such-kid", result.Stderr);
    }

    [Fact]
    public async Task Keys_RotatedByTheCli_IsPublishedByTheRunningServerWithinItsRefreshInterval()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder, environment: new Dictionary<string, string?>
        {
            ["LATCHKEY__KEYS__REFRESHINTERVAL"] = "00:00:01",
        });
        HttpClient http = server.Http;
        Assert.Equal(2, await KeyCountAsync(http)); // the access tokens' key and the id tokens'

        CliResult rotated = await RunAsync("keys", "rotate");
        Assert.True(rotated.ExitCode == 0, rotated.ToString());
        Assert.Contains("ES256 key", rotated.Stdout);
        Assert.Contains("for access tokens", rotated.Stdout);

        // Bounded: the server re-reads its keys every second here.
        for (int i = 0; i < 100 && await KeyCountAsync(http) < 3; i++)
            await Task.Delay(100);
        Assert.Equal(3, await KeyCountAsync(http));
    }

    [Fact]
    public async Task Keys_RotateIdToken_AddsAnRs256IdTokenKey_AndListShowsWhatEachKeySigns()
    {
        await using (await LatchkeyServer.StartAsync(_folder)) { }

        CliResult rotated = await RunAsync("keys", "rotate", "--id-token");
        CliResult refused = await RunAsync("keys", "rotate", "--id-token", "--algorithm", "ES256");
        CliResult list = await RunAsync("keys", "list");

        Assert.True(rotated.ExitCode == 0, rotated.ToString());
        Assert.Contains("RS256 key", rotated.Stdout);
        Assert.Contains("for id tokens", rotated.Stdout);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("RS256 only", refused.Stderr);
        string[] rows = list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1..];
        Assert.Equal(3, rows.Length);
        Assert.Single(rows, r => r.Contains(" ES256 ") && r.Contains("access tokens") && r.Contains("active"));
        Assert.Single(rows, r => r.Contains(" RS256 ") && r.Contains("id tokens") && r.Contains("active"));
        Assert.Single(rows, r => r.Contains(" RS256 ") && r.Contains("id tokens") && r.Contains("pending"));
    }

    [Fact]
    public async Task Keys_RevokedByTheCli_TheRunningServerDropsItAndRefusesItsTokensWithinTheRevocationInterval()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder, environment: new Dictionary<string, string?>
        {
            ["LATCHKEY__REVOCATIONREFRESHINTERVAL"] = "00:00:00.2",
        });
        Assert.Equal(0, (await LatchkeyCli.RunAsync(["users", "add", "alice", "--password-stdin", "--data-dir", _folder.Data], "alices-password-1\n")).ExitCode);
        string token = await TokenAsync(server);
        string kid = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[0])).RootElement.GetProperty("kid").GetString()!;

        CliResult revoked = await RunAsync("keys", "revoke", kid);
        Assert.True(revoked.ExitCode == 0, revoked.ToString());
        Assert.Contains("signs from now", revoked.Stdout);
        Assert.Contains("revoked", (await RunAsync("keys", "list")).Stdout);

        // Bounded: the server re-reads the revocations every 0.2 s here.
        for (int i = 0; i < 100 && await MeStatusAsync(server.Http, token) == System.Net.HttpStatusCode.OK; i++)
            await Task.Delay(100);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, await MeStatusAsync(server.Http, token));
        Assert.DoesNotContain(kid, await server.Http.GetStringAsync("/.well-known/jwks.json"));
        string fresh = await TokenAsync(server);
        Assert.Equal(System.Net.HttpStatusCode.OK, await MeStatusAsync(server.Http, fresh));
        Assert.Equal(2, (await RunAsync("keys", "revoke", kid)).ExitCode);
    }

    private static async Task<string> TokenAsync(LatchkeyServer server)
    {
        using HttpResponseMessage response = await server.PasswordGrantAsync("alice", "alices-password-1");
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;
    }

    private static async Task<System.Net.HttpStatusCode> MeStatusAsync(HttpClient http, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/me");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<int> KeyCountAsync(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync("/.well-known/jwks.json")).RootElement.GetProperty("keys").GetArrayLength();
}
