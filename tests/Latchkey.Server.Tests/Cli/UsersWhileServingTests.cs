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
