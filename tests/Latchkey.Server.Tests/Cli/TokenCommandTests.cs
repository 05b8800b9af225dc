using System.Net;
using System.Text.Json;
using Latchkey.Server.Tests.Support;
using Xunit;

namespace Latchkey.Server.Tests.Cli;

/// <summary><c>latchkey token decode</c>: a local jwt.io that checks signatures against the data folder's keys.</summary>
public sealed class TokenCommandTests : IDisposable
{
    private const string Password = "daves-password-1";
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private Task<CliResult> DecodeAsync(string token, string? stdin = null, string? dataDirectory = null) =>
        LatchkeyCli.RunAsync(["token", "decode", token, "--data-dir", dataDirectory ?? _folder.Data], stdin, workingDirectory: _folder.Root);

    /// <summary>A real token from a real server on this data folder.</summary>
    private async Task<string> IssueTokenAsync()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);
        CliResult add = await LatchkeyCli.RunAsync(["users", "add", "dave", "--role", "admin", "--password-stdin", "--data-dir", _folder.Data],
            Password + "\n", workingDirectory: _folder.Root);
        Assert.True(add.ExitCode == 0, add.ToString());
        using HttpResponseMessage response = await server.PasswordGrantAsync("dave", Password);
        string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using JsonDocument json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>Replaces one character in the middle of the signature, so the decoded signature bytes change.</summary>
    private static string FlipSignatureCharacter(string token)
    {
        int start = token.LastIndexOf('.') + 1;
        int at = start + (token.Length - start) / 2;
        char replacement = token[at] == 'A' ? 'B' : 'A';
        return string.Concat(token.AsSpan(0, at), replacement.ToString(), token.AsSpan(at + 1));
    }

    [Fact]
    public async Task Decode_TokenFromThisServer_PrintsHeaderClaimsAndValidSignature()
    {
        string token = await IssueTokenAsync();

        CliResult result = await DecodeAsync(token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Header:", result.Stdout);
        Assert.Contains("\"alg\": \"ES256\"", result.Stdout);
        Assert.Contains("\"typ\": \"at+jwt\"", result.Stdout);
        Assert.Contains("Claims:", result.Stdout);
        Assert.Contains("\"preferred_username\": \"dave\"", result.Stdout);
        Assert.Contains("\"iss\": \"http://127.0.0.1\"", result.Stdout);
        Assert.Contains("Signature: valid", result.Stdout);
        // Times as ISO 8601 UTC, and how long the token has left (issued moments ago, 30 minute lifetime).
        Assert.Matches(@"  iat: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", result.Stdout);
        Assert.Matches(@"  exp: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z \(expires in (29m|30m) \d+s\)", result.Stdout);
        Assert.DoesNotContain("INVALID", result.Stdout);
    }

    [Fact]
    public async Task Decode_TokenOnStandardInput_IsReadWithDash()
    {
        string token = await IssueTokenAsync();

        CliResult result = await DecodeAsync("-", stdin: token + "\n");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("\"preferred_username\": \"dave\"", result.Stdout);
        Assert.Contains("Signature: valid", result.Stdout);
    }

    [Fact]
    public async Task Decode_SignatureCharacterFlipped_PrintsInvalid()
    {
        string token = FlipSignatureCharacter(await IssueTokenAsync());

        CliResult result = await DecodeAsync(token);

        Assert.Contains("\"preferred_username\": \"dave\"", result.Stdout);
        Assert.Contains("Signature: INVALID", result.Stdout);
        Assert.DoesNotContain("Signature: valid", result.Stdout);
        Assert.Equal(1, result.ExitCode);
    }

    [Fact]
    public async Task Decode_OtherDataFolder_SaysNotVerifiedRatherThanValid()
    {
        string token = await IssueTokenAsync();

        CliResult result = await DecodeAsync(token, dataDirectory: Path.Combine(_folder.Root, "elsewhere"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Signature: not verified", result.Stdout);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("a.b")]
    [InlineData("!!!.@@@.###")]
    public async Task Decode_NotAJwt_FailsWithExit2AndAClearError(string text)
    {
        CliResult result = await DecodeAsync(text);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("latchkey: not a readable JWT:", result.Stderr);
        Assert.DoesNotContain("Header:", result.Stdout);
        Assert.DoesNotContain("Signature:", result.Stdout);
    }

    [Fact]
    public async Task Decode_DatabaseFromANewerLatchkey_SaysNotVerifiedWithoutCrashing()
    {
        string token = await IssueTokenAsync();
        await Database.ExecuteAsync(_folder.DatabasePath, "INSERT INTO schema_version (version) VALUES (99)");

        CliResult result = await DecodeAsync(token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("\"preferred_username\": \"dave\"", result.Stdout);
        Assert.Contains("Signature: not verified", result.Stdout);
        Assert.Contains("Upgrade Latchkey", result.Stdout);
        Assert.DoesNotContain("Unhandled exception", result.AllOutput);
    }
}
