using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Latchkey.Testing;

/// <summary>How to start a <see cref="ListeningProcess"/>.</summary>
public sealed record ListeningProcessOptions
{
    /// <summary>The working directory; the current one when null.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Environment variables to set (a null value removes the variable from the child's environment).</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>How long to wait for the "Now listening on:" line before giving up.</summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The line that says the process listens, with the address in a group named <c>url</c>; null for ASP.NET Core's
    /// "Now listening on: http://…". Uvicorn, for example, says "Uvicorn running on http://…".
    /// </summary>
    public Regex? ListeningLine { get; init; }
}

/// <summary>
/// A child process that serves HTTP (an ASP.NET Core app started with <c>--urls http://127.0.0.1:0</c>):
/// started with redirected output, ready once it logs "Now listening on: http://…", killed with its
/// whole process tree on dispose. Tests talk to it over real HTTP at <see cref="BaseAddress"/>.
/// </summary>
public sealed partial class ListeningProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly Regex _listeningLine;

    private ListeningProcess(Process process, Regex listeningLine)
    {
        _process = process;
        _listeningLine = listeningLine;
    }

    /// <summary>The first address the process said it listens on, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether the process has exited (it should not have, while a test uses it).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process wrote so far, stdout and stderr interleaved line by line (stderr lines prefixed "stderr: ").</summary>
    public string Output
    {
        get
        {
            lock (_gate)
                return _output.ToString();
        }
    }

    /// <summary>Starts <c>dotnet <paramref name="dllPath"/> <paramref name="arguments"/></c> with the same <c>dotnet</c> that runs the tests.</summary>
    public static Task<ListeningProcess> StartDotnetAsync(string dllPath, IEnumerable<string> arguments,
        ListeningProcessOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(DotnetHost(), [dllPath, .. arguments], options, cancellationToken);

    /// <summary>Starts <paramref name="fileName"/> and waits until it logs the address it listens on.</summary>
    /// <exception cref="InvalidOperationException">The process exited before listening.</exception>
    /// <exception cref="TimeoutException">It did not listen within <see cref="ListeningProcessOptions.StartupTimeout"/>.</exception>
    public static async Task<ListeningProcess> StartAsync(string fileName, IEnumerable<string> arguments,
        ListeningProcessOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ListeningProcessOptions();
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = options.WorkingDirectory ?? System.Environment.CurrentDirectory,
        };
        foreach (string argument in arguments)
            startInfo.ArgumentList.Add(argument);
        foreach ((string name, string? value) in options.Environment)
        {
            if (value is null)
                startInfo.Environment.Remove(name);
            else
                startInfo.Environment[name] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var child = new ListeningProcess(process, options.ListeningLine ?? ListeningLine());
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data, isError: false);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, isError: true);
        process.Exited += (_, _) => _ = Task.Run(async () =>
        {
            if (child._listening.Task.IsCompleted)
                return;
            string exitCode = "?";
            try
            {
                // Let the output readers drain first, so the message shows why it exited.
                await process.WaitForExitAsync(CancellationToken.None);
                exitCode = process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
            {
                // Disposed meanwhile.
            }

            child._listening.TrySetException(new InvalidOperationException(
                $"'{fileName}' exited with code {exitCode} before it was listening. Its output:\n{child.Output}"));
        }, CancellationToken.None);

        if (!process.Start())
            throw new InvalidOperationException($"Could not start '{fileName}'.");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            child.BaseAddress = await child._listening.Task.WaitAsync(options.StartupTimeout, cancellationToken);
            return child;
        }
        catch (TimeoutException)
        {
            await child.DisposeAsync();
            throw new TimeoutException(
                $"'{fileName}' did not log that it listens (/{child._listeningLine}/) within {options.StartupTimeout.TotalSeconds:0} s. Its output:\n{child.Output}");
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills the process and everything it started, then waits (bounded) for it to exit.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Leave it; there is nothing more a test can do.
        }

        _process.Dispose();
    }

    private void OnLine(string? line, bool isError)
    {
        if (line is null)
            return;
        lock (_gate)
            _output.Append(isError ? "stderr: " : "").AppendLine(line);
        Match match = _listeningLine.Match(line);
        if (match.Success)
            _listening.TrySetResult(new Uri(match.Groups["url"].Value.TrimEnd('/') + "/"));
    }

    /// <summary>The dotnet host running the tests (the SDK sets DOTNET_HOST_PATH), else the one on PATH.</summary>
    private static string DotnetHost()
    {
        string? hostPath = System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(hostPath) && File.Exists(hostPath))
            return hostPath;
        string? root = System.Environment.GetEnvironmentVariable("DOTNET_ROOT");
        string fromRoot = root is null ? "" : Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(fromRoot) ? fromRoot : "dotnet";
    }

    // Not \S+: in JSON console logs the URL is followed by a quote, not by a space.
    [GeneratedRegex(@"Now listening on: (?<url>https?://[^\s""]+)")]
    private static partial Regex ListeningLine();
}
