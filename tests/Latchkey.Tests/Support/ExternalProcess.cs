using System.ComponentModel;
using System.Diagnostics;

namespace Latchkey.Tests.Support;

/// <summary>
/// Runs an outside program to completion (node, Debian's python): optional stdin, a bounded wait, the whole process tree
/// killed on timeout, stdout and stderr captured. A program that is not installed fails the test with <paramref name="missingHint"/>.
/// </summary>
public static class ExternalProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(ProcessStartInfo startInfo, TimeSpan timeout, string? stdin = null, string? missingHint = null)
    {
        startInfo.RedirectStandardInput = stdin is not null;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.UseShellExecute = false;

        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {startInfo.FileName}.");
        }
        catch (Win32Exception e)
        {
            Assert.Fail($"`{startInfo.FileName}` cannot be started: {e.Message}. {missingHint}");
            throw;
        }

        using (process)
        {
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            cancel.CancelAfter(timeout);
            Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancel.Token);
            Task<string> stderr = process.StandardError.ReadToEndAsync(cancel.Token);
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin);
                process.StandardInput.Close();
            }

            try
            {
                await process.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }

            return new Result(process.ExitCode, await stdout, await stderr);
        }
    }
}
