using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Latchkey.Server.Tests.Support;
using Xunit;

namespace Latchkey.Server.Tests.Cli;

/// <summary><c>latchkey clients …</c> as a real process on a real data folder, checked against what latchkey.db holds.</summary>
public sealed partial class ClientsCommandTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private sealed record ListedClient(string ClientId, string State, string Grants, string Scopes, string Audience);

    [GeneratedRegex("lk_cs_[A-Za-z0-9_-]{43}")]
    private static partial Regex SecretPattern();

    private Task<CliResult> RunAsync(params string[] arguments) => LatchkeyCli.RunAsync([.. arguments, "--data-dir", _folder.Data], workingDirectory: _folder.Root);

    private async Task<CliResult> RunOkAsync(params string[] arguments)
    {
        CliResult result = await RunAsync(arguments);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    /// <summary>The one secret in the output; fails unless it appears exactly once.</summary>
    private static string SecretIn(CliResult result)
    {
        Match match = Assert.Single(SecretPattern().Matches(result.AllOutput));
        return match.Value;
    }

    private static (string ClientId, string Secret) ParseJson(CliResult result)
    {
        Assert.Equal("", result.Stderr);
        using JsonDocument json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(["client_id", "client_secret"], json.RootElement.EnumerateObject().Select(p => p.Name));
        return (json.RootElement.GetProperty("client_id").GetString()!, json.RootElement.GetProperty("client_secret").GetString()!);
    }

    private async Task<List<ListedClient>> ListAsync()
    {
        CliResult result = await RunOkAsync("clients", "list");
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.StartsWith("CLIENT_ID", lines[0]);
        // The built-in first-party client is always listed; these tests are about the registered ones.
        return lines.Skip(1).Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => new ListedClient(p[0], p[1], p[2], p[3], p[4])).Where(c => c.ClientId != "default").ToList();
    }

    private async Task<string?> StoredHashAsync(string clientId)
    {
        List<object?[]> rows = await Database.QueryAsync(_folder.DatabasePath, $"SELECT secret_hash FROM clients WHERE client_id = '{clientId}'");
        return rows.Count == 0 ? null : Assert.IsType<string>(Assert.Single(rows)[0]);
    }

    private static string Sha256Hex(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    [Fact]
    public async Task Add_ClientCredentialsClient_PrintsTheSecretOnceAndSaysItCannotBeShownAgain()
    {
        CliResult result = await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials", "--scope", "reports:read", "--audience", "api://reports");

        SecretIn(result);
        Assert.Contains("Created client reports", result.Stdout);
        Assert.Contains("cannot be shown again", result.Stdout);
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public async Task Add_Json_StdoutIsOnlyTheClientIdAndSecret()
    {
        CliResult result = await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials", "--json");

        (string clientId, string secret) = ParseJson(result);
        Assert.Equal("reports", clientId);
        Assert.Matches(SecretPattern(), secret);
        Assert.Equal($"{{\"client_id\": \"reports\", \"client_secret\": \"{secret}\"}}", result.Stdout.TrimEnd('\n'));
    }

    [Fact]
    public async Task Add_PublicBrowserClient_Json_IsTheClientIdAlone_AndNoSecretIsStored()
    {
        CliResult result = await RunOkAsync("clients", "add", "spa", "--grant", "authorization_code", "--grant", "refresh_token",
            "--redirect-uri", "http://127.0.0.1:5173/callback", "--redirect-uri", "https://spa.example/callback", "--post-logout-redirect-uri",
            "https://spa.example/", "--public", "--first-party", "--json");

        Assert.Equal("{\"client_id\": \"spa\"}", result.Stdout.TrimEnd('\n'));
        List<object?[]> rows = await Database.QueryAsync(_folder.DatabasePath,
            "SELECT secret_hash, is_public, first_party, redirect_uris, post_logout_redirect_uris FROM clients WHERE client_id = 'spa'");
        object?[] row = Assert.Single(rows);
        Assert.Equal("", row[0]);
        Assert.Equal(1L, row[1]);
        Assert.Equal(1L, row[2]);
        Assert.Equal("[\"http://127.0.0.1:5173/callback\",\"https://spa.example/callback\"]", row[3]);
        Assert.Equal("[\"https://spa.example/\"]", row[4]);
        Assert.Contains("public, first-party", (await RunOkAsync("clients", "add", "web", "--grant", "authorization_code", "--redirect-uri",
            "https://web.example/cb", "--public", "--first-party")).Stdout);
    }

    [Fact]
    public async Task Add_RequireMfa_StoredAndDescribed_RefusedWithThePasswordGrantOrWithoutTheBrowser()
    {
        CliResult added = await RunOkAsync("clients", "add", "payroll", "--grant", "authorization_code", "--redirect-uri", "https://payroll.example/cb",
            "--require-mfa");

        Assert.Contains("requires a second factor", added.Stdout);
        Assert.Equal(1L, Assert.Single(await Database.QueryAsync(_folder.DatabasePath, "SELECT require_mfa FROM clients WHERE client_id = 'payroll'"))[0]);
        CliResult withPassword = await RunAsync("clients", "add", "p2", "--grant", "authorization_code", "--grant", "password", "--redirect-uri",
            "https://p2.example/cb", "--require-mfa");
        Assert.Equal(2, withPassword.ExitCode);
        Assert.Contains("cannot have the password grant", withPassword.Stderr);
        CliResult service = await RunAsync("clients", "add", "p3", "--grant", "client_credentials", "--require-mfa");
        Assert.Equal(2, service.ExitCode);
        Assert.Contains("--require-mfa are for clients with the authorization_code grant", service.Stderr);
    }

    [Fact]
    public async Task Add_ConfidentialBrowserClient_Json_HasASecret_AndAnHttpRedirectForANonLoopbackHostIsRefused()
    {
        (string clientId, string secret) = ParseJson(await RunOkAsync("clients", "add", "webapp", "--grant", "authorization_code", "--redirect-uri",
            "https://web.example/signin-oidc", "--json"));
        Assert.Equal("webapp", clientId);
        Assert.Matches(SecretPattern(), secret);

        CliResult refused = await RunAsync("clients", "add", "plain", "--grant", "authorization_code", "--redirect-uri", "http://web.example/cb");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("http is allowed only for a loopback host", refused.Stderr);
        CliResult noRedirect = await RunAsync("clients", "add", "none", "--grant", "authorization_code");
        Assert.Equal(2, noRedirect.ExitCode);
        Assert.Contains("--redirect-uri", noRedirect.Stderr);
    }

    [Fact]
    public async Task Add_StoresTheLowercaseHexSha256OfTheSecretAndNotTheSecret()
    {
        string secret = ParseJson(await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials", "--json")).Secret;

        string? stored = await StoredHashAsync("reports");
        Assert.Equal(Sha256Hex(secret), stored);
        Assert.Matches("^[0-9a-f]{64}$", stored);
        List<object?[]> anywhere = await Database.QueryAsync(_folder.DatabasePath,
            $"SELECT client_id FROM clients WHERE secret_hash LIKE '%{secret}%' OR grant_types LIKE '%{secret}%' OR scopes LIKE '%{secret}%'");
        Assert.Empty(anywhere);
    }

    [Fact]
    public async Task List_AfterAdd_ShowsGrantsScopesAndAudienceButNeverTheSecretOrItsHash()
    {
        string secret = SecretIn(await RunOkAsync("clients", "add", "reports", "--grant", "password", "--grant", "refresh_token",
            "--scope", "a", "--scope", "b", "--audience", "api://reports"));
        await RunOkAsync("clients", "add", "bare", "--grant", "client_credentials");

        CliResult list = await RunOkAsync("clients", "list");

        Assert.DoesNotContain(secret, list.AllOutput);
        Assert.DoesNotContain(Sha256Hex(secret), list.AllOutput);
        Assert.DoesNotMatch(SecretPattern(), list.AllOutput);
        Assert.Equal(
            [new ListedClient("bare", "active", "client_credentials", "-", "-"), new ListedClient("reports", "active", "password,refresh_token", "a,b", "api://reports")],
            (await ListAsync()).OrderBy(c => c.ClientId, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Add_WithIntrospect_StoresThePermissionAndListShowsIt()
    {
        await RunOkAsync("clients", "add", "gateway", "--grant", "client_credentials", "--introspect");
        await RunOkAsync("clients", "add", "billing-gw", "--grant", "client_credentials", "--introspect", "audience");
        await RunOkAsync("clients", "add", "plain", "--grant", "client_credentials");

        List<object?[]> rows = await Database.QueryAsync(_folder.DatabasePath, "SELECT client_id, introspection FROM clients WHERE is_public = 0 ORDER BY client_id");
        Assert.Equal([["billing-gw", "audience"], ["gateway", "any"], ["plain", null]], rows.Select(r => r.ToArray()));
        CliResult list = await RunOkAsync("clients", "list");
        Assert.Matches(@"(?m)^gateway\s.*\sany$", list.Stdout);
    }

    [Fact]
    public async Task Add_UnknownIntrospectPermission_Exit2()
    {
        CliResult result = await RunAsync(["clients", "add", "gateway", "--grant", "client_credentials", "--introspect", "all"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("not an introspection permission", result.Stderr);
    }

    [Fact]
    public async Task Add_IdShapedLikeAUserId_Exit2()
    {
        CliResult result = await RunAsync(["clients", "add", Guid.CreateVersion7().ToString(), "--grant", "client_credentials"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("form of a user id", result.Stderr);
    }

    [Fact]
    public async Task Scopes_AddAndRemove_StoredAtomicallyAndPrinted()
    {
        await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials", "--scope", "a", "--scope", "b");

        CliResult result = await RunOkAsync("clients", "scopes", "reports", "--add", "c", "--remove", "a");

        Assert.Contains("reports: scopes b,c", result.Stdout);
        Assert.Equal("b,c", Assert.Single(await ListAsync()).Scopes);
        CliResult unknown = await RunAsync(["clients", "scopes", "ghost", "--add", "c"]);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("No client named 'ghost'", unknown.Stderr);
    }

    [Fact]
    public async Task DisableDefault_TheFirstPartyClientIsListedDisabled()
    {
        await RunOkAsync("clients", "disable", "default");

        CliResult list = await RunOkAsync("clients", "list");
        Assert.Matches(@"(?m)^default\s+disabled\s+password,refresh_token\s", list.Stdout);
        CliResult remove = await RunAsync(["clients", "remove", "default"]);
        Assert.Equal(2, remove.ExitCode);
        Assert.Contains("disable it instead", remove.Stderr);
    }

    [Fact]
    public async Task RotateSecret_KnownClient_PrintsANewSecretOnceAndStoresOnlyItsHash()
    {
        string old = ParseJson(await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials", "--json")).Secret;

        CliResult text = await RunOkAsync("clients", "rotate-secret", "reports");
        string second = SecretIn(text);
        Assert.Contains("cannot be shown again", text.Stdout);
        Assert.Equal(Sha256Hex(second), await StoredHashAsync("reports"));

        (string clientId, string third) = ParseJson(await RunOkAsync("clients", "rotate-secret", "reports", "--json"));
        Assert.Equal("reports", clientId);
        Assert.Equal(Sha256Hex(third), await StoredHashAsync("reports"));
        Assert.Equal(3, new[] { old, second, third }.Distinct().Count());
    }

    [Fact]
    public async Task DisableThenEnable_KnownClient_ListShowsDisabledThenActive()
    {
        await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials");

        Assert.Contains("Disabled client reports", (await RunOkAsync("clients", "disable", "reports")).Stdout);
        Assert.Equal("disabled", Assert.Single(await ListAsync()).State);

        Assert.Contains("Enabled client reports", (await RunOkAsync("clients", "enable", "reports")).Stdout);
        Assert.Equal("active", Assert.Single(await ListAsync()).State);
    }

    [Fact]
    public async Task Remove_KnownClient_DeletesItsRow()
    {
        await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials");
        await RunOkAsync("clients", "add", "other", "--grant", "client_credentials");

        Assert.Contains("Removed client reports", (await RunOkAsync("clients", "remove", "reports")).Stdout);

        Assert.Null(await StoredHashAsync("reports"));
        Assert.Equal("other", Assert.Single(await ListAsync()).ClientId);
    }

    [Theory]
    [InlineData("not a grant", "reports", "--grant", "implicit")]
    [InlineData("at least one grant type", "reports")]
    [InlineData("only useful with the authorization_code or password grant", "reports", "--grant", "client_credentials", "--grant", "refresh_token")]
    [InlineData("not a valid client name", "bad name", "--grant", "client_credentials")]
    [InlineData("not a valid scope", "reports", "--grant", "client_credentials", "--scope", "a\"b")]
    [InlineData("built-in first-party client", "default", "--grant", "client_credentials")]
    public async Task Add_InvalidInput_Exit2WithTheReasonAndNothingStored(string reason, params string[] arguments)
    {
        CliResult result = await RunAsync(["clients", "add", .. arguments, "--json"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(reason, result.Stderr);
        Assert.Equal("", result.Stdout);
        Assert.Empty(await Database.QueryAsync(_folder.DatabasePath, "SELECT client_id FROM clients WHERE is_public = 0"));
    }

    [Fact]
    public async Task Add_ExistingName_Exit2AndKeepsTheFirstSecret()
    {
        string secret = ParseJson(await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials", "--json")).Secret;

        CliResult again = await RunAsync("clients", "add", "reports", "--grant", "password");

        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already exists", again.Stderr);
        Assert.DoesNotMatch(SecretPattern(), again.AllOutput);
        Assert.Equal(Sha256Hex(secret), await StoredHashAsync("reports"));
        Assert.Equal("client_credentials", Assert.Single(await ListAsync()).Grants);
    }

    [Theory]
    [InlineData("rotate-secret")]
    [InlineData("disable")]
    [InlineData("enable")]
    [InlineData("remove")]
    public async Task Command_UnknownClient_Exit2NamingItAndChangesNothing(string command)
    {
        await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials");
        string? hash = await StoredHashAsync("reports");

        CliResult result = await RunAsync("clients", command, "ghost");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("No client named 'ghost'", result.Stderr);
        Assert.Equal("", result.Stdout);
        Assert.Equal(hash, await StoredHashAsync("reports"));
        Assert.Equal([new ListedClient("reports", "active", "client_credentials", "-", "-")], await ListAsync());
    }

    [Fact]
    public async Task Changes_FromTheCli_AuditedWithActorCli()
    {
        await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials");
        await RunOkAsync("clients", "rotate-secret", "reports");
        await RunOkAsync("clients", "disable", "reports");
        await RunOkAsync("clients", "remove", "reports");

        List<object?[]> rows = await Database.QueryAsync(_folder.DatabasePath, "SELECT type, actor, client_id FROM audit_events ORDER BY id");

        Assert.Equal(
            [["client_added", "cli", "reports"], ["client_secret_rotated", "cli", "reports"], ["client_disabled", "cli", "reports"], ["tokens_cut_off", "cli", "reports"],
             ["client_removed", "cli", "reports"], ["tokens_cut_off", "cli", "reports"]],
            rows.Select(r => r.Select(v => (string?)v).ToArray()));
    }

    [Fact]
    public async Task Add_WhileServing_ClientGetsAClientCredentialsTokenForItselfAndItsAudience()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);
        string secret = ParseJson(await RunOkAsync("clients", "add", "reports", "--grant", "client_credentials", "--scope", "reports:read",
            "--audience", "api://reports", "--json")).Secret;

        var request = new HttpRequestMessage(HttpMethod.Post, "token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "reports:read" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"reports:{secret}")));
        using HttpResponseMessage response = await server.Http.SendAsync(request, TestContext.Current.CancellationToken);

        string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using JsonDocument json = JsonDocument.Parse(body);
        Assert.False(json.RootElement.TryGetProperty("refresh_token", out _));
        string payload = json.RootElement.GetProperty("access_token").GetString()!.Split('.')[1];
        using JsonDocument claims = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(payload));
        Assert.Equal("reports", claims.RootElement.GetProperty("sub").GetString());
        Assert.Equal("api://reports", claims.RootElement.GetProperty("aud").GetString());
        Assert.Equal("reports:read", claims.RootElement.GetProperty("scope").GetString());
        Assert.DoesNotContain(secret, server.Process.Output);
    }
}
