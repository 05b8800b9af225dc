using System.Diagnostics;
using Latchkey.Tests.Support;
using Xunit;

namespace Latchkey.Tests.Interop;

/// <summary>
/// Runs Debian's /usr/bin/python3 with the apt-installed python-jose, PyJWT and argon2-cffi. Not the `python3` on PATH:
/// that is a pyenv build without Debian's packages. A missing interpreter or module fails the test, never skips it.
/// </summary>
internal static class DebianPython
{
    private const string Interpreter = "/usr/bin/python3";
    private const string Install = "apt-get install python3-jose python3-jwt python3-cryptography python3-argon2";

    public sealed record Result(int ExitCode, string StandardOutput, string StandardError);

    /// <summary>Runs <paramref name="script"/> (via <c>-c</c>) with <paramref name="arguments"/> as sys.argv[1:], and returns its trimmed stdout.</summary>
    public static async Task<string> RunAsync(string script, params string[] arguments)
    {
        Result result = await RunRawAsync(script, arguments);
        Assert.True(result.ExitCode == 0, $"python exited with {result.ExitCode}.\nstdout: {result.StandardOutput}\nstderr: {result.StandardError}");
        return result.StandardOutput.Trim();
    }

    public static async Task<Result> RunRawAsync(string script, params string[] arguments)
    {
        if (!File.Exists(Interpreter))
            Assert.Fail($"{Interpreter} is missing. Install Debian's Python and the JWT libraries: {Install}");
        Result check = await ExecuteAsync("import jose, jose.jwt, jwt, cryptography, argon2", []);
        if (check.ExitCode != 0)
            Assert.Fail($"python-jose, PyJWT, cryptography or argon2-cffi is missing from {Interpreter}: {Install}\n{check.StandardError}");
        return await ExecuteAsync(script, arguments);
    }

    /// <summary>Runs <paramref name="script"/> without checking for the JWT libraries first (for checks of other modules).</summary>
    public static async Task<Result> ExecuteAsync(string script, string[] arguments)
    {
        var startInfo = new ProcessStartInfo(Interpreter);
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(script);
        foreach (string argument in arguments)
            startInfo.ArgumentList.Add(argument);
        // Keep a pyenv or virtualenv of the caller from shadowing Debian's site-packages.
        foreach (string name in (string[])["PYTHONPATH", "PYTHONHOME", "PYENV_VERSION", "VIRTUAL_ENV"])
            startInfo.Environment.Remove(name);

        ExternalProcess.Result result = await ExternalProcess.RunAsync(startInfo, TimeSpan.FromSeconds(60));
        return new Result(result.ExitCode, result.Stdout, result.Stderr);
    }
}
