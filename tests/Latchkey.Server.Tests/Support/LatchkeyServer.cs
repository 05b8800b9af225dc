using Latchkey.Testing;
using Xunit;

namespace Latchkey.Server.Tests.Support;

/// <summary>
/// <c>latchkey serve</c> as a child process on a free port (port 0, so the issuer is given explicitly),
/// with an <see cref="HttpClient"/> pointed at it. Killed on dispose.
/// </summary>
internal sealed class LatchkeyServer : IAsyncDisposable
{
    public const string Issuer = "http://127.0.0.1";

    private LatchkeyServer(ListeningProcess process)
    {
        Process = process;
        Http = new HttpClient { BaseAddress = process.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public ListeningProcess Process { get; }

    public HttpClient Http { get; }

    /// <param name="arguments">More arguments for <c>latchkey serve</c>, e.g. <c>--log-format json</c>.</param>
    /// <param name="urls">The <c>--urls</c>; the first is <see cref="Http"/>'s address.</param>
    public static async Task<LatchkeyServer> StartAsync(TempFolder folder, IReadOnlyDictionary<string, string?>? environment = null, string[]? arguments = null,
        string urls = "http://127.0.0.1:0")
    {
        ListeningProcess process = await ListeningProcess.StartDotnetAsync(
            LatchkeyCli.DllPath,
            ["serve", "--urls", urls, "--issuer", Issuer, "--data-dir", folder.Data, .. arguments ?? []],
            new ListeningProcessOptions { WorkingDirectory = folder.Root, Environment = LatchkeyCli.CleanEnvironment(environment) },
            TestContext.Current.CancellationToken);
        return new LatchkeyServer(process);
    }

    /// <summary>POST /token with the password grant.</summary>
    public Task<HttpResponseMessage> PasswordGrantAsync(string username, string password, string? scope = null) =>
        Http.PostAsync("token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = username,
            ["password"] = password,
            ["scope"] = scope ?? "",
        }), TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Process.DisposeAsync();
    }
}
