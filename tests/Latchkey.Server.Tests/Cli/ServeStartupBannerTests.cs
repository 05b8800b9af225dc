using Latchkey.Server.Tests.Support;
using Xunit;

namespace Latchkey.Server.Tests.Cli;

/// <summary>The block <c>latchkey serve</c> prints once it listens: where, issuer, data, signing key, and the next step.</summary>
public sealed class ServeStartupBannerTests : IDisposable
{
    private const string Password = "correct horse battery";
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>The banner is written after Kestrel reports listening; wait (bounded) for its last line.</summary>
    private static async Task<string> BannerAsync(LatchkeyServer server)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!server.Process.Output.Contains("Stop with Ctrl+C.", StringComparison.Ordinal))
            await Task.Delay(50, timeout.Token);
        string output = server.Process.Output;
        int start = output.IndexOf("Latchkey is running.", StringComparison.Ordinal);
        Assert.True(start >= 0, output);
        return output[start..];
    }

    [Fact]
    public async Task Serve_FreshFolder_BannerSaysWhereWhatAndToAddAUser()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);
        string banner = await BannerAsync(server);

        string url = server.Process.BaseAddress.ToString().TrimEnd('/');
        Assert.Contains($"Listening on:  {url}", banner);
        Assert.Contains($"Issuer:        {LatchkeyServer.Issuer}", banner);
        Assert.Contains($"Data folder:   {_folder.Data}", banner);
        Assert.Contains($"Database:      {_folder.DatabasePath}", banner);
        Assert.Matches(@"Signing:       ES256, key id [A-Za-z0-9_-]{20,}", banner);
        Assert.Contains("No users yet: run `latchkey users add NAME --role admin", banner);
        Assert.DoesNotContain("curl", banner);
    }

    [Fact]
    public async Task Serve_AfterAUserExists_BannerShowsHowToGetAToken()
    {
        CliResult added = await LatchkeyCli.RunAsync(["users", "add", "alice", "--role", "admin", "--password-stdin", "--data-dir", _folder.Data],
            Password + "\n", workingDirectory: _folder.Root);
        Assert.True(added.ExitCode == 0, added.ToString());

        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);
        string banner = await BannerAsync(server);

        Assert.Contains($"Get a token: curl -u NAME {server.Process.BaseAddress.ToString().TrimEnd('/')}/token", banner);
        Assert.DoesNotContain("No users yet", banner);
    }
}
