using System.Diagnostics;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>
/// <c>/docs</c> in a real headless browser: Debian's chromium, driven by tests/Interop/browser/docs.mjs
/// (npm <c>playwright-core</c>, pinned in its package-lock.json). The script authorizes with the UI's password flow,
/// calls <c>/me</c> from the UI and saves a screenshot, all under the Content-Security-Policy the server sends with
/// /docs: any CSP violation, page error or console error fails it. A missing chromium, node or node_modules fails, never skips.
/// </summary>
public sealed class DocsBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Install = "apt-get install -y chromium && npm ci --prefix tests/Interop/browser --no-audit --no-fund";

    [Fact]
    public async Task Docs_AuthorizeWithPasswordGrantThenCallMe_ShowsTheUser()
    {
        string folder = PackageFolder();
        if (!File.Exists(Chromium))
            Assert.Fail($"{Chromium} is missing. Run `{Install}` from the repository root (as root).");
        if (!File.Exists(Path.Combine(folder, "node_modules", "playwright-core", "package.json")))
            Assert.Fail($"npm `playwright-core` is not installed in {folder}. Run `{Install}` from the repository root.");

        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", "correct horse battery");
        string screenshot = Path.Combine(AppContext.BaseDirectory, "screenshots", "docs.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        File.Delete(screenshot);

        (int exitCode, string stdout, string stderr) = await RunNodeAsync(folder, "docs.mjs",
            server.BaseAddress.ToString(), "alice", "correct horse battery", screenshot);

        Assert.True(exitCode == 0, $"node docs.mjs exited with {exitCode}.\nstdout: {stdout}\nstderr: {stderr}\nscreenshot: {screenshot}");
        Assert.Contains("\"preferred_username\":\"alice\"", stdout);
        // The page ran under the docs policy (docs.mjs prints it), which still forbids framing.
        Assert.Contains("frame-ancestors 'none'", stdout);
        var png = new FileInfo(screenshot);
        Assert.True(png.Exists, $"no screenshot at {screenshot}");
        // A blank 1280-pixel-wide page compresses to a few KB; the docs with a response body are far larger.
        Assert.True(png.Length > 20_000, $"the screenshot is only {png.Length} bytes");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(screenshot)[..4]);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunNodeAsync(string folder, string script, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo("node") { WorkingDirectory = folder };
        startInfo.ArgumentList.Add(Path.Combine(folder, script));
        foreach (string argument in arguments)
            startInfo.ArgumentList.Add(argument);
        ExternalProcess.Result result = await ExternalProcess.RunAsync(startInfo, TimeSpan.FromSeconds(120),
            missingHint: $"Install node (20 or later), then run `{Install}`.");
        return (result.ExitCode, result.Stdout, result.Stderr);
    }

    /// <summary>tests/Interop/browser, found from the test binaries by walking up to the repository root (Latchkey.slnx).</summary>
    private static string PackageFolder()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Latchkey.slnx")))
                return Path.Combine(d.FullName, "tests", "Interop", "browser");
        }

        throw new InvalidOperationException($"No Latchkey.slnx above {AppContext.BaseDirectory}: cannot find tests/Interop/browser.");
    }
}
