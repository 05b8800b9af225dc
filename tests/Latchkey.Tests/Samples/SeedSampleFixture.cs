using Latchkey.Testing;
using Xunit;

namespace Latchkey.Tests.Samples;

/// <summary>
/// The real Seed sample (samples/Seed), started as its own process over real HTTP on a free port.
/// The ProjectReference copies Seed.dll with its runtimeconfig and deps into the test output folder.
/// </summary>
public sealed class SeedSampleFixture : IAsyncLifetime
{
    private ListeningProcess? _process;

    public ListeningProcess Process => _process ?? throw new InvalidOperationException("The Seed sample is not running.");

    public HttpClient Http { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Seed.dll");
        if (!File.Exists(dll) || !File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")))
            throw new InvalidOperationException($"Seed.dll (with its runtimeconfig) was not copied to {AppContext.BaseDirectory}; check the Seed ProjectReference.");

        _process = await ListeningProcess.StartDotnetAsync(dll, ["--urls", "http://127.0.0.1:0"], new ListeningProcessOptions
        {
            WorkingDirectory = AppContext.BaseDirectory,
            // --urls decides the address; keep stray settings of the machine running the tests out of it.
            Environment = new Dictionary<string, string?> { ["ASPNETCORE_URLS"] = null, ["ASPNETCORE_ENVIRONMENT"] = "Production" },
        }, TestContext.Current.CancellationToken);
        Http = new HttpClient { BaseAddress = _process.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (_process is not null)
            await _process.DisposeAsync();
    }
}
