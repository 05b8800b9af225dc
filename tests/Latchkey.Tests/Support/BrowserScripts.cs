using System.Diagnostics;

namespace Latchkey.Tests.Support;

/// <summary>
/// Runs the scripts of tests/Interop/browser (npm <c>playwright-core</c> and <c>axe-core</c>, pinned in its package-lock.json)
/// with node, driving Debian's chromium. A missing chromium, node or node_modules fails the test with the command that
/// installs them, never skips it.
/// </summary>
public static class BrowserScripts
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Install = "apt-get install -y chromium && npm ci --prefix tests/Interop/browser --no-audit --no-fund";

    public static async Task<ExternalProcess.Result> RunAsync(string script, params string[] arguments)
    {
        string folder = PackageFolder();
        if (!File.Exists(Chromium))
            Assert.Fail($"{Chromium} is missing. Run `{Install}` from the repository root (as root).");
        if (!File.Exists(Path.Combine(folder, "node_modules", "playwright-core", "package.json")) ||
            !File.Exists(Path.Combine(folder, "node_modules", "axe-core", "package.json")))
            Assert.Fail($"npm `playwright-core` or `axe-core` is not installed in {folder}. Run `{Install}` from the repository root.");

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
