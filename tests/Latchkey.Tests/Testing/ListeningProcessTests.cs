using Latchkey.Testing;
using Xunit;

namespace Latchkey.Tests.Testing;

public sealed class ListeningProcessTests
{
    private static string SeedDll => Path.Combine(AppContext.BaseDirectory, "Seed.dll");

    [Fact]
    public async Task StartDotnetAsync_AppListens_ExposesLoopbackBaseAddressAndOutput()
    {
        await using ListeningProcess app = await ListeningProcess.StartDotnetAsync(SeedDll, ["--urls", "http://127.0.0.1:0"],
            new ListeningProcessOptions { WorkingDirectory = AppContext.BaseDirectory }, TestContext.Current.CancellationToken);

        Assert.Equal("127.0.0.1", app.BaseAddress.Host);
        Assert.NotEqual(0, app.BaseAddress.Port);
        Assert.Contains($"Now listening on: http://127.0.0.1:{app.BaseAddress.Port}", app.Output, StringComparison.Ordinal);
        Assert.False(app.HasExited);
    }

    [Fact]
    public async Task StartDotnetAsync_AppExitsBeforeListening_ThrowsWithItsOutput()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ListeningProcess.StartDotnetAsync(
            SeedDll, ["--urls", "not-a-url"], new ListeningProcessOptions { WorkingDirectory = AppContext.BaseDirectory },
            TestContext.Current.CancellationToken));

        Assert.Contains("exited", e.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid url: 'not-a-url'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartDotnetAsync_EnvironmentVariableSet_ReachesTheApp()
    {
        // ASP.NET reads ASPNETCORE_URLS when no --urls is given: proof the variable reached the child.
        await using ListeningProcess app = await ListeningProcess.StartDotnetAsync(SeedDll, [], new ListeningProcessOptions
        {
            WorkingDirectory = AppContext.BaseDirectory,
            Environment = new Dictionary<string, string?> { ["ASPNETCORE_URLS"] = "http://127.0.0.1:0" },
        }, TestContext.Current.CancellationToken);

        Assert.Equal("127.0.0.1", app.BaseAddress.Host);
    }

    [Fact]
    public async Task DisposeAsync_RunningApp_StopsListening()
    {
        ListeningProcess app = await ListeningProcess.StartDotnetAsync(SeedDll, ["--urls", "http://127.0.0.1:0"],
            new ListeningProcessOptions { WorkingDirectory = AppContext.BaseDirectory }, TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = app.BaseAddress };
        (await http.GetAsync("/token", TestContext.Current.CancellationToken)).Dispose();

        await app.DisposeAsync();

        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/token", TestContext.Current.CancellationToken));
    }
}
