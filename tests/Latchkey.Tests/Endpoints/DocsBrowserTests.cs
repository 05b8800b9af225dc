using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>
/// <c>/docs</c> in a real headless browser: Debian's chromium, driven by tests/Interop/browser/docs.mjs
/// (<see cref="BrowserScripts"/>). The script authorizes with the UI's password flow,
/// calls <c>/me</c> from the UI and saves a screenshot, all under the Content-Security-Policy the server sends with
/// /docs: any CSP violation, page error or console error fails it. A missing chromium, node or node_modules fails, never skips.
/// </summary>
public sealed class DocsBrowserTests
{
    [Fact]
    public async Task Docs_AuthorizeWithPasswordGrantThenCallMe_ShowsTheUser()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", "correct horse battery");
        string screenshot = Path.Combine(AppContext.BaseDirectory, "screenshots", "docs.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        File.Delete(screenshot);

        (int exitCode, string stdout, string stderr) = await BrowserScripts.RunAsync("docs.mjs",
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
}
