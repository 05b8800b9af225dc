using System.Diagnostics;
using System.Text;

namespace Latchkey.Server.Tests.Support;

/// <summary>What one run of the <c>latchkey</c> executable did.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Both streams, for assertion messages and for checking that a secret was never printed.</summary>
    public string AllOutput => Stdout + Stderr;

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// Runs the real <c>latchkey</c> executable (latchkey.dll, copied beside the tests by the project reference) as a child
/// process with redirected stdin, stdout and stderr, and waits a bounded time for it to exit.
/// </summary>
internal static class LatchkeyCli
{
    public static string DllPath { get; } = Path.Combine(AppContext.BaseDirectory, "latchkey.dll");

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Runs <c>dotnet latchkey.dll <paramref name="arguments"/></c>. Standard input is always redirected: it carries
    /// <paramref name="stdin"/> (nothing when null) and is then closed. Inherited <c>LATCHKEY__…</c> variables are
    /// removed so only <paramref name="environment"/> configures the run.
    /// </summary>
    /// <exception cref="TimeoutException">The process did not exit within the timeout; it was killed.</exception>
    public static async Task<CliResult> RunAsync(
        IEnumerable<string> arguments,
        string? stdin = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        TimeSpan? timeout = null)
    {
        var startInfo = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
        };
        startInfo.ArgumentList.Add(DllPath);
        foreach (string argument in arguments)
            startInfo.ArgumentList.Add(argument);
        foreach ((string name, string? value) in CleanEnvironment(environment))
        {
            if (value is null)
                startInfo.Environment.Remove(name);
            else
                startInfo.Environment[name] = value;
        }

        using var process = new Process { StartInfo = startInfo };
        if (!process.Start())
            throw new InvalidOperationException("Could not start latchkey.");

        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            if (stdin is not null)
                await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The process exited without reading its input; its exit code and output tell why.
        }

        TimeSpan limit = timeout ?? DefaultTimeout;
        using var cancel = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException(
                $"latchkey {string.Join(' ', arguments)} did not exit within {limit.TotalSeconds:0} s.\nstdout:\n{await stdout}\nstderr:\n{await stderr}");
        }

        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// The child's environment changes: every inherited <c>LATCHKEY__…</c> and <c>ASPNETCORE_URLS</c> removed (null),
    /// then <paramref name="environment"/> applied on top. Also used for servers started with ListeningProcess.
    /// </summary>
    public static Dictionary<string, string?> CleanEnvironment(IReadOnlyDictionary<string, string?>? environment = null)
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (string name in Environment.GetEnvironmentVariables().Keys.Cast<string>())
        {
            if (name.StartsWith("LATCHKEY", StringComparison.OrdinalIgnoreCase) || name.Equals("ASPNETCORE_URLS", StringComparison.OrdinalIgnoreCase))
                result[name] = null;
        }

        foreach ((string name, string? value) in environment ?? new Dictionary<string, string?>())
            result[name] = value;
        return result;
    }

    internal static string DotnetHost()
    {
        string? hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(hostPath) && File.Exists(hostPath) ? hostPath : "dotnet";
    }
}
