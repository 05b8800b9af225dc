using Latchkey.Testing;

namespace Latchkey.Tests.Interop;

/// <summary>
/// samples/ProtectedApi takes its signing keys from the Authority, so it starts only with an https Authority, or a
/// plain http one on this machine (localhost, 127.x, ::1); any other http Authority stops it with a message saying so.
/// </summary>
public sealed class ProtectedApiStartupTests
{
    [Theory]
    [InlineData("http://latchkey.example")]
    [InlineData("http://10.0.0.5:5000")]
    [InlineData("latchkey.example")]
    public async Task NonLoopbackHttpAuthority_RefusesToStart_SayingWhy(string authority)
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(authority));

        Assert.Contains("exited with code 1", failure.Message);
        Assert.Contains($"Latchkey:Authority '{authority}' must be an https URL; plain http is allowed only for localhost, 127.x or ::1.", failure.Message);
    }

    [Theory]
    [InlineData("https://latchkey.example")]
    [InlineData("http://localhost:5000")]
    [InlineData("http://127.0.0.2:5000")]
    [InlineData("http://[::1]:5000")]
    public async Task HttpsOrLoopbackAuthority_Starts(string authority)
    {
        // JwtBearer fetches the Authority's metadata on the first request, so none of these needs to be running.
        await using ListeningProcess api = await StartAsync(authority);

        Assert.False(api.HasExited);
    }

    private static Task<ListeningProcess> StartAsync(string authority) =>
        ListeningProcess.StartDotnetAsync(Path.Combine(AppContext.BaseDirectory, "ProtectedApi.dll"),
            ["--urls", "http://127.0.0.1:0", "--Latchkey:Authority", authority, "--Latchkey:Audience", "api"],
            new ListeningProcessOptions
            {
                WorkingDirectory = AppContext.BaseDirectory,
                Environment = new Dictionary<string, string?> { ["ASPNETCORE_URLS"] = null, ["ASPNETCORE_ENVIRONMENT"] = "Production" },
                StartupTimeout = TimeSpan.FromSeconds(30),
            }, TestContext.Current.CancellationToken);
}
