using System.Diagnostics;
using System.Text;
using Latchkey.Server.Tests.Support;

namespace Latchkey.Server.Tests.Cli;

/// <summary>
/// In a terminal, `users add` and `users set-password` prompt twice without echo. The terminal is a real pty made by
/// util-linux `script`. The test types only once the program is reading with echo off (it polls the pty's termios with
/// `stty`), so keys sent before the program is ready cannot be echoed by the terminal and fail the test by accident.
/// </summary>
public sealed class PasswordPromptTests : IDisposable
{
    private const string Password = "typed on a terminal";
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task UsersAdd_InATerminal_PromptsTwiceWithoutEcho()
    {
        (int exitCode, string screen) = await RunInTerminalAsync($"users add tty-user --data-dir {_folder.Data}", Password, Password);

        Assert.Equal(0, exitCode);
        Assert.Contains("Password: ", screen);
        Assert.Contains("Repeat password: ", screen);
        Assert.Contains("Created user tty-user", screen);
        Assert.DoesNotContain(Password, screen);
        CliResult list = await LatchkeyCli.RunAsync(["users", "list", "--data-dir", _folder.Data]);
        Assert.Contains("tty-user", list.Stdout);
    }

    [Fact]
    public async Task UsersAdd_InATerminalWithMismatchedRepeat_CreatesNothing()
    {
        (int exitCode, string screen) = await RunInTerminalAsync($"users add tty-user --data-dir {_folder.Data}", Password, Password + "!");

        Assert.Equal(2, exitCode);
        Assert.Contains("do not match", screen);
        CliResult list = await LatchkeyCli.RunAsync(["users", "list", "--data-dir", _folder.Data]);
        Assert.DoesNotContain("tty-user", list.Stdout);
    }

    private static async Task<(int ExitCode, string Screen)> RunInTerminalAsync(string arguments, string first, string second)
    {
        Assert.True(File.Exists("/usr/bin/script"), "util-linux `script` is needed to give the CLI a terminal (apt-get install bsdutils).");
        string command = $"{LatchkeyCli.DotnetHost()} {LatchkeyCli.DllPath} {arguments}";
        var startInfo = new ProcessStartInfo("/usr/bin/script", ["-qec", command, "/dev/null"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using Process process = Process.Start(startInfo)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var screen = new StringBuilder();
        try
        {
            await ReadUntilAsync(process, screen, "Password: ", timeout.Token);
            await WaitForEchoOffAsync(process.Id, timeout.Token);
            await process.StandardInput.WriteAsync(first + "\r");
            await process.StandardInput.FlushAsync();
            await ReadUntilAsync(process, screen, "Repeat password: ", timeout.Token);
            await WaitForEchoOffAsync(process.Id, timeout.Token);
            await process.StandardInput.WriteAsync(second + "\r");
            await process.StandardInput.FlushAsync();
            screen.Append(await process.StandardOutput.ReadToEndAsync(timeout.Token));
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }

        return (process.ExitCode, screen.ToString());
    }

    /// <summary>Waits (bounded) until the pty of <c>script</c>'s child has echo switched off: the program is reading the password.</summary>
    private static async Task WaitForEchoOffAsync(int scriptPid, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string? pty = ChildTerminal(scriptPid);
            if (pty is not null)
            {
                var stty = Process.Start(new ProcessStartInfo("stty", ["-a", "-F", pty]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
                string settings = await stty.StandardOutput.ReadToEndAsync(cancellationToken);
                await stty.WaitForExitAsync(cancellationToken);
                if (settings.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Contains("-echo"))
                    return;
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>The terminal (/dev/pts/N) that the child of <paramref name="parentPid"/> reads from.</summary>
    private static string? ChildTerminal(int parentPid)
    {
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[1] == parentPid.ToString(System.Globalization.CultureInfo.InvariantCulture))
                {
                    string target = new FileInfo(Path.Combine(dir, "fd", "0")).LinkTarget ?? "";
                    if (target.StartsWith("/dev/pts/", StringComparison.Ordinal))
                        return target;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Processes come and go while we look.
            }
        }

        return null;
    }

    private static async Task ReadUntilAsync(Process process, StringBuilder screen, string prompt, CancellationToken cancellationToken)
    {
        var buffer = new char[256];
        while (!screen.ToString().Contains(prompt))
        {
            int read = await process.StandardOutput.ReadAsync(buffer, cancellationToken);
            if (read == 0)
                Assert.Fail($"The program ended before prompting '{prompt}':\n{screen}");
            screen.Append(buffer, 0, read);
        }
    }
}
