using System.Net;
using System.Text.Json;
using Latchkey.Server.Tests.Support;
using Xunit;

namespace Latchkey.Server.Tests.Cli;

/// <summary><c>latchkey audit</c> as a process: what the CLI and a running server recorded, read back as text or JSON.</summary>
public sealed class AuditCommandTests : IDisposable
{
    private const string Password = "correct horse battery";
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private Task<CliResult> RunAsync(string[] arguments, string? stdin = null) =>
        LatchkeyCli.RunAsync([.. arguments, "--data-dir", _folder.Data], stdin, workingDirectory: _folder.Root);

    private async Task<JsonElement[]> AuditJsonAsync(params string[] arguments)
    {
        CliResult result = await RunAsync(["audit", "--json", .. arguments]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
    }

    private static string? Field(JsonElement e, string name) => e.GetProperty(name).GetString();

    [Fact]
    public async Task AuditJson_AfterCliChangesAndALogin_ListsEachEventWithItsFields()
    {
        Assert.Equal(0, (await RunAsync(["users", "add", "alice", "--password-stdin"], Password + "\n")).ExitCode);
        await using (LatchkeyServer server = await LatchkeyServer.StartAsync(_folder))
        {
            using HttpResponseMessage failed = await server.PasswordGrantAsync("alice", "not her password");
            Assert.Equal(HttpStatusCode.BadRequest, failed.StatusCode);
        }

        Assert.Equal(0, (await RunAsync(["users", "disable", "alice"])).ExitCode);
        Assert.Equal(0, (await RunAsync(["keys", "rotate"])).ExitCode);

        JsonElement[] events = await AuditJsonAsync();
        Assert.Equal(["user_added", "login_failed", "user_disabled", "tokens_cut_off", "key_rotated"], events.Select(e => Field(e, "type")));
        Assert.All(events, e =>
        {
            foreach (string name in new[] { "time", "type", "subject", "client", "address", "outcome" })
                Assert.True(e.TryGetProperty(name, out _), $"{name} missing in {e}");
            Assert.True(DateTimeOffset.TryParse(Field(e, "time"), out _));
        });
        JsonElement login = events[1];
        Assert.Equal(("alice", "default", "127.0.0.1", "failure"), (Field(login, "subject"), Field(login, "client"), Field(login, "address"), Field(login, "outcome")));
        Assert.Equal(("cli", "alice", "success"), (Field(events[2], "actor"), Field(events[2], "subject"), Field(events[2], "outcome")));
        Assert.Equal("cli", Field(events[3], "actor"));

        Assert.Equal(["user_added", "login_failed", "user_disabled", "tokens_cut_off"], (await AuditJsonAsync("--user", "Alice")).Select(e => Field(e, "type")));
        Assert.Equal(5, (await AuditJsonAsync("--since", "1h")).Length);
        Assert.Empty(await AuditJsonAsync("--since", "2099-01-01T00:00:00Z"));
    }

    [Fact]
    public async Task Audit_Text_OneLinePerEventNeverThePassword()
    {
        Assert.Equal(0, (await RunAsync(["users", "add", "alice", "--password-stdin"], Password + "\n")).ExitCode);

        CliResult result = await RunAsync(["audit"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("TIME (UTC)", lines[0]);
        Assert.Contains("user_added", Assert.Single(lines[1..]));
        Assert.DoesNotContain(Password, result.AllOutput);
    }

    [Fact]
    public async Task Audit_BadSince_Exit2WithTheFormats()
    {
        CliResult result = await RunAsync(["audit", "--since", "yesterday"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("24h", result.Stderr);
        Assert.Equal("", result.Stdout);
    }
}
