using Latchkey.Server.Tests.Support;
using Xunit;

namespace Latchkey.Server.Tests.Cli;

/// <summary><c>latchkey serve</c> refuses a wrong configuration before touching anything, listing every problem with its fix.</summary>
public sealed class ServeStartupValidationTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private Task<CliResult> ServeAsync(string[] arguments, IReadOnlyDictionary<string, string?>? environment = null) =>
        LatchkeyCli.RunAsync(["serve", .. arguments], environment: environment, workingDirectory: _folder.Root);

    private static string[] ProblemLines(CliResult result) =>
        result.Stderr.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("  - ", StringComparison.Ordinal)).ToArray();

    private void AssertNothingCreatedInDataFolder() =>
        Assert.True(!Directory.Exists(_folder.Data) || !Directory.EnumerateFileSystemEntries(_folder.Data).Any(),
            "The data folder holds: " + string.Join(", ", Directory.Exists(_folder.Data) ? Directory.EnumerateFileSystemEntries(_folder.Data) : []));

    [Fact]
    public async Task Serve_BadUrlUnwritableFolderAndShortHmacSecret_ReportsAllThreeAtOnceWithFixes()
    {
        string file = Path.Combine(_folder.Root, "F");
        await File.WriteAllTextAsync(file, "a file, not a folder", TestContext.Current.CancellationToken);
        var environment = new Dictionary<string, string?>
        {
            ["LATCHKEY__SIGNINGALGORITHM"] = "HS256",
            ["LATCHKEY__HMACSECRET"] = "short",
        };

        CliResult result = await ServeAsync(
            ["--urls", "not-a-url", "--issuer", "http://127.0.0.1", "--data-dir", Path.Combine(file, "sub")], environment);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("cannot start", result.Stderr);
        string[] problems = ProblemLines(result);
        Assert.True(problems.Length == 3, result.ToString());
        Assert.Single(problems, p => p.Contains("--urls 'not-a-url'") && p.Contains("e.g. http://127.0.0.1:5000"));
        string hmacProblem = Assert.Single(problems, p => p.Contains("Latchkey:HmacSecret is 5 bytes") && p.Contains("openssl rand -base64 32"));
        Assert.DoesNotContain("short", hmacProblem); // the secret itself is never echoed
        Assert.Single(problems, p => p.Contains(Path.Combine(file, "sub")) && p.Contains("--data-dir"));
        Assert.DoesNotContain("Now listening", result.Stdout);
        Assert.True(File.Exists(file));
        Assert.False(Directory.Exists(Path.Combine(file, "sub")));
    }

    [Fact]
    public async Task Serve_BadSettingWithWritableFolder_CreatesNoDatabaseOrMasterKey()
    {
        var environment = new Dictionary<string, string?>
        {
            ["LATCHKEY__SIGNINGALGORITHM"] = "HS256",
            ["LATCHKEY__HMACSECRET"] = "short",
        };

        CliResult result = await ServeAsync(["--urls", "http://127.0.0.1:0", "--issuer", "http://127.0.0.1", "--data-dir", _folder.Data], environment);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Single(ProblemLines(result));
        AssertNothingCreatedInDataFolder();
    }

    [Fact]
    public async Task Serve_AppSettingsJsonInWorkingFolderWithOneSecondLifetime_IsReadAndRefused()
    {
        await File.WriteAllTextAsync(Path.Combine(_folder.Root, "appsettings.json"),
            """{"Latchkey":{"AccessTokenLifetime":"00:00:01"}}""", TestContext.Current.CancellationToken);

        CliResult result = await ServeAsync(["--urls", "http://127.0.0.1:0", "--issuer", "http://127.0.0.1", "--data-dir", _folder.Data]);

        Assert.True(result.ExitCode == 2, result.ToString());
        string problem = Assert.Single(ProblemLines(result));
        Assert.Contains("Latchkey:AccessTokenLifetime 00:00:01 is outside 00:00:30 to 24:00:00", problem);
        AssertNothingCreatedInDataFolder();
    }

    [Fact]
    public async Task Serve_EnvironmentVariable_WinsOverAppSettingsJson()
    {
        await File.WriteAllTextAsync(Path.Combine(_folder.Root, "appsettings.json"),
            """{"Latchkey":{"AccessTokenLifetime":"00:00:01"}}""", TestContext.Current.CancellationToken);
        var environment = new Dictionary<string, string?> { ["LATCHKEY__ACCESSTOKENLIFETIME"] = "00:00:02" };

        CliResult result = await ServeAsync(["--urls", "http://127.0.0.1:0", "--issuer", "http://127.0.0.1", "--data-dir", _folder.Data], environment);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("Latchkey:AccessTokenLifetime 00:00:02 is outside", Assert.Single(ProblemLines(result)));
    }

    [Fact]
    public async Task Serve_FtpIssuer_IsRefused()
    {
        CliResult result = await ServeAsync(["--urls", "http://127.0.0.1:0", "--issuer", "ftp://x", "--data-dir", _folder.Data]);

        Assert.True(result.ExitCode == 2, result.ToString());
        string problem = Assert.Single(ProblemLines(result));
        Assert.Contains("Latchkey:Issuer 'ftp://x' is not an http(s) URL", problem);
        Assert.Contains("https://auth.example.com", problem);
        AssertNothingCreatedInDataFolder();
    }

    [Fact]
    public async Task Serve_PortZeroWithoutIssuer_RefusedAskingForAnIssuer()
    {
        CliResult result = await ServeAsync(["--urls", "http://127.0.0.1:0", "--data-dir", _folder.Data]);

        Assert.True(result.ExitCode == 2, result.ToString());
        string problem = Assert.Single(ProblemLines(result));
        Assert.Contains("Latchkey:Issuer is not set", problem);
        Assert.Contains("--issuer", problem);
        AssertNothingCreatedInDataFolder();
    }

    [Fact]
    public async Task Serve_MalformedAppSettingsJson_ReportedNamingTheFileWithoutAStackTrace()
    {
        await File.WriteAllTextAsync(Path.Combine(_folder.Root, "appsettings.json"), """{"Latchkey":""", TestContext.Current.CancellationToken);

        CliResult result = await ServeAsync(["--urls", "http://127.0.0.1:0", "--issuer", "http://127.0.0.1", "--data-dir", _folder.Data]);

        Assert.True(result.ExitCode == 2, result.ToString());
        string problem = Assert.Single(ProblemLines(result));
        Assert.Contains(Path.Combine(_folder.Root, "appsettings.json"), problem);
        Assert.Contains("Fix the JSON", problem);
        Assert.DoesNotContain("Unhandled exception", result.AllOutput);
        Assert.DoesNotContain("   at ", result.AllOutput);
        AssertNothingCreatedInDataFolder();
    }

    [Fact]
    public async Task Serve_LifetimeThatIsNotADuration_ReportedNamingTheSettingWithoutAStackTrace()
    {
        var environment = new Dictionary<string, string?> { ["LATCHKEY__ACCESSTOKENLIFETIME"] = "half-an-hour" };

        CliResult result = await ServeAsync(["--urls", "http://127.0.0.1:0", "--issuer", "http://127.0.0.1", "--data-dir", _folder.Data], environment);

        Assert.True(result.ExitCode == 2, result.ToString());
        string problem = Assert.Single(ProblemLines(result));
        Assert.Contains("'Latchkey:AccessTokenLifetime'", problem);
        Assert.Contains("00:30:00", problem);
        Assert.DoesNotContain("Unhandled exception", result.AllOutput);
        Assert.DoesNotContain("   at ", result.AllOutput);
        AssertNothingCreatedInDataFolder();
    }

    [Fact]
    public async Task Serve_AspNetCoreForwardedHeadersEnabled_RefusedSayingHowToListProxies()
    {
        // ASP.NET Core would then believe X-Forwarded-For from any peer (it clears its known proxies): any client could
        // choose the address that the login throttle and the audit log see.
        var environment = new Dictionary<string, string?> { ["ASPNETCORE_FORWARDEDHEADERS_ENABLED"] = "true" };

        CliResult result = await ServeAsync(["--urls", "http://127.0.0.1:0", "--issuer", "http://127.0.0.1", "--data-dir", _folder.Data], environment);

        Assert.True(result.ExitCode == 2, result.ToString());
        string problem = Assert.Single(ProblemLines(result));
        Assert.Contains("ASPNETCORE_FORWARDEDHEADERS_ENABLED=true makes ASP.NET Core believe X-Forwarded-For from any client", problem);
        Assert.Contains("unset ASPNETCORE_FORWARDEDHEADERS_ENABLED and list your proxies in Latchkey:TrustedProxies (LATCHKEY__TRUSTEDPROXIES__0=10.0.0.5)", problem);
        Assert.DoesNotContain("Now listening", result.Stdout);
        AssertNothingCreatedInDataFolder();
    }

    [Fact]
    public async Task Serve_TrustedProxyThatIsAHostName_ReportedWithItsFix()
    {
        var environment = new Dictionary<string, string?>
        {
            ["LATCHKEY__TRUSTEDPROXIES__0"] = "10.0.0.5",
            ["LATCHKEY__TRUSTEDPROXIES__1"] = "proxy.internal",
        };

        CliResult result = await ServeAsync(["--urls", "http://127.0.0.1:0", "--issuer", "http://127.0.0.1", "--data-dir", _folder.Data], environment);

        Assert.True(result.ExitCode == 2, result.ToString());
        string problem = Assert.Single(ProblemLines(result));
        Assert.Equal("  - Latchkey:TrustedProxies:1 'proxy.internal' is not an IP address or CIDR network (e.g. 10.0.0.5, 10.0.0.0/8, 2001:db8::/32). " +
                     "List each proxy's address or network, e.g. LATCHKEY__TRUSTEDPROXIES__0=10.0.0.5.", problem);
        AssertNothingCreatedInDataFolder();
    }
}
