using System.Diagnostics;

namespace Latchkey.Tests.Support;

/// <summary>
/// Runs the scripts that drive Debian's chromium with node: those of tests/Interop/browser (npm <c>playwright-core</c> and
/// <c>axe-core</c>) and the relying parties of tests/Interop/node (<c>openid-client</c>), each pinned in its package-lock.json.
/// A missing chromium, node or node_modules fails the test with the command that installs them, never skips it.
/// </summary>
public static class BrowserScripts
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Install = "apt-get install -y chromium && npm ci --prefix tests/Interop/browser && npm ci --prefix tests/Interop/node";

    /// <summary>Runs tests/Interop/browser/<paramref name="script"/>.</summary>
    public static Task<ExternalProcess.Result> RunAsync(string script, params string[] arguments) => RunInAsync("browser", ["playwright-core", "axe-core"], script, arguments);

    /// <summary>Runs tests/Interop/node/<paramref name="script"/>, a relying party that drives chromium.</summary>
    public static Task<ExternalProcess.Result> RunRelyingPartyAsync(string script, params string[] arguments) =>
        RunInAsync("node", ["playwright-core", "openid-client"], script, arguments);

    private static async Task<ExternalProcess.Result> RunInAsync(string package, string[] modules, string script, string[] arguments)
    {
        string folder = Path.Combine(RepositoryRoot(), "tests", "Interop", package);
        if (!File.Exists(Chromium))
            Assert.Fail($"{Chromium} is missing. Run `{Install}` from the repository root (as root).");
        if (modules.FirstOrDefault(m => !File.Exists(Path.Combine(folder, "node_modules", m, "package.json"))) is { } missing)
            Assert.Fail($"npm `{missing}` is not installed in {folder}. Run `{Install}` from the repository root.");

        var startInfo = new ProcessStartInfo("node") { WorkingDirectory = folder };
        startInfo.ArgumentList.Add(Path.Combine(folder, script));
        foreach (string argument in arguments)
            startInfo.ArgumentList.Add(argument);
        return await ExternalProcess.RunAsync(startInfo, TimeSpan.FromSeconds(180), missingHint: $"Install node (20 or later), then run `{Install}`.");
    }

    /// <summary>A folder under the test output for a test's screenshots and reports, emptied first.</summary>
    public static string OutputFolder(string name)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "screenshots", name);
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>The repository root (where Latchkey.slnx is), found from the test binaries by walking up.</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Latchkey.slnx")))
                return d.FullName;
        }

        throw new InvalidOperationException($"No Latchkey.slnx above {AppContext.BaseDirectory}: cannot find tests/Interop.");
    }
}
