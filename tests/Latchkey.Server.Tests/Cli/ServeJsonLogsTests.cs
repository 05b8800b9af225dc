using System.Net;
using System.Text.Json;
using Latchkey.Server.Tests.Support;
using Xunit;

namespace Latchkey.Server.Tests.Cli;

/// <summary><c>latchkey serve --log-format json</c>: every console line is one JSON object, and request lines carry the request id.</summary>
public sealed class ServeJsonLogsTests : IDisposable
{
    private const string Password = "json-logs-Pa55word-1";
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string[] StdoutLines(LatchkeyServer server) =>
        server.Process.Output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith("stderr: ", StringComparison.Ordinal)).ToArray();

    /// <summary>The console logger writes on its own thread: wait (bounded) until the lines of these events are out.</summary>
    private static async Task<List<JsonElement>> WaitForEventsAsync(LatchkeyServer server, params int[] eventIds)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            List<JsonElement> lines = StdoutLines(server).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            if (eventIds.All(id => lines.Any(l => l.GetProperty("EventId").GetInt32() == id)) || DateTime.UtcNow > deadline)
                return lines;
            await Task.Delay(50, Ct);
        }
    }

    [Fact]
    public async Task Serve_LogFormatJson_EveryLineIsJsonAndRequestLinesCarryTheRequestId()
    {
        CliResult added = await LatchkeyCli.RunAsync(["users", "add", "dora", "--password-stdin", "--data-dir", _folder.Data], Password + "\n", workingDirectory: _folder.Root);
        Assert.True(added.ExitCode == 0, added.ToString());
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder, arguments: ["--log-format", "json"]);

        using (HttpResponseMessage ok = await server.PasswordGrantAsync("dora", Password))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (HttpResponseMessage wrong = await server.PasswordGrantAsync("dora", "not-" + Password))
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        using (HttpResponseMessage ready = await server.Http.GetAsync("readyz", Ct))
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        // 5001 audit (login_succeeded), 2001 login failed: Latchkey's own lines, written inside the request.
        List<JsonElement> lines = await WaitForEventsAsync(server, 5001, 2001);
        string output = server.Process.Output;
        Assert.All(StdoutLines(server), line => Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(line).RootElement.ValueKind));
        Assert.Contains(lines, l => l.GetProperty("Message").GetString()!.StartsWith("Now listening on: ", StringComparison.Ordinal));
        // The start-up block arrives as one structured event, not as text that would break the JSON stream.
        Assert.Contains(lines, l => l.GetProperty("EventId").GetInt32() == 4100 && l.GetProperty("Message").GetString()!.Contains("Latchkey is running", StringComparison.Ordinal));
        List<JsonElement> requestLines = lines.Where(l => l.GetProperty("EventId").GetInt32() == 2001 ||
            (l.GetProperty("EventId").GetInt32() == 5001 && l.GetProperty("State").GetProperty("AuditType").GetString() == "login_succeeded")).ToList();
        Assert.True(requestLines.Count == 2, output);
        var requestIds = new HashSet<string>();
        foreach (JsonElement line in requestLines)
        {
            JsonElement scope = Assert.Single(line.GetProperty("Scopes").EnumerateArray(), s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty("RequestId", out _));
            Assert.False(string.IsNullOrEmpty(scope.GetProperty("RequestId").GetString()), output);
            Assert.Equal("/token", scope.GetProperty("RequestPath").GetString());
            requestIds.Add(scope.GetProperty("RequestId").GetString()!);
        }

        Assert.Equal(2, requestIds.Count); // one id per request
        Assert.DoesNotContain(Password, output);
    }

    [Fact]
    public async Task Serve_LogFormatFromEnvironment_IsJson()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder, new Dictionary<string, string?> { ["LATCHKEY__LOGFORMAT"] = "json" });

        Assert.All(StdoutLines(server), line => Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(line).RootElement.ValueKind));
        Assert.Contains("\"Now listening on: ", server.Process.Output);
    }

    [Fact]
    public async Task Serve_LogFormatUnknown_RefusesToStartNamingTheChoices()
    {
        CliResult result = await LatchkeyCli.RunAsync(
            ["serve", "--urls", "http://127.0.0.1:0", "--issuer", LatchkeyServer.Issuer, "--data-dir", _folder.Data, "--log-format", "xml"],
            workingDirectory: _folder.Root);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("  - --log-format 'xml' is not a log format. Use text or json.", result.Stderr);
    }
}
