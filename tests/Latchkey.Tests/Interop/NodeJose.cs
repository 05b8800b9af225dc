using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Interop;

/// <summary>
/// Runs the scripts of tests/Interop/node (verify.mjs, sign.mjs) with the <c>node</c> on PATH and the <c>jose</c>
/// pinned in its package-lock.json. A missing node or node_modules fails the test, never skips it.
/// </summary>
internal static class NodeJose
{
    private const string Install = "npm ci --prefix tests/Interop/node";

    /// <summary>Runs <paramref name="script"/> with <paramref name="input"/> as JSON on stdin, and returns its stdout parsed as JSON.</summary>
    public static async Task<JsonNode> RunAsync(string script, JsonObject input)
    {
        string folder = PackageFolder();
        if (!File.Exists(Path.Combine(folder, "node_modules", "jose", "package.json")))
            Assert.Fail($"node `jose` is not installed in {folder}. Run `{Install}` from the repository root.");

        var startInfo = new ProcessStartInfo("node") { WorkingDirectory = folder };
        startInfo.ArgumentList.Add(Path.Combine(folder, script));
        ExternalProcess.Result result = await ExternalProcess.RunAsync(startInfo, TimeSpan.FromSeconds(60), input.ToJsonString(),
            $"Install node (20 or later), then run `{Install}`.");
        Assert.True(result.ExitCode == 0, $"node {script} exited with {result.ExitCode}.\nstdout: {result.Stdout}\nstderr: {result.Stderr}");
        return JsonNode.Parse(result.Stdout) ?? throw new JsonException($"node {script} printed null.");
    }

    /// <summary>tests/Interop/node, found from the test binaries by walking up to the repository root (Latchkey.slnx).</summary>
    private static string PackageFolder()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Latchkey.slnx")))
                return Path.Combine(d.FullName, "tests", "Interop", "node");
        }

        throw new InvalidOperationException($"No Latchkey.slnx above {AppContext.BaseDirectory}: cannot find tests/Interop/node.");
    }
}
