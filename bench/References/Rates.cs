using System.Diagnostics;
using System.Globalization;
using System.Text;
using Latchkey;
using Latchkey.Accounts;

namespace Latchkey.Bench.References;

/// <summary>
/// <c>references rates</c>: how fast one thread runs each raw primitive on the bytes a floor token signs, and Latchkey's
/// own <see cref="PasswordHasher"/> at its default parameters. One JSON object a line:
/// <c>{"name":"es256_verify","per_second":15600.2,"us":64.1,"cpu_us":63.9,"count":15601}</c> (us: wall clock; cpu_us: CPU time). bench/run.sh runs it pinned to the
/// server's core and takes its references from it (the raw Argon2id rate, the cost of an ES256 verification).
/// <c>references rates --argon2id-verify --seconds S</c> runs the Argon2id verify alone: the password target measures it
/// beside each of its rounds.
/// </summary>
internal static class Rates
{
    public static int Run(string[] args)
    {
        bool verifyOnly = args is ["--argon2id-verify", ..];
        if (verifyOnly)
            args = args[1..];
        double seconds = args is ["--seconds", var s] ? double.Parse(s, CultureInfo.InvariantCulture) : 1.0;
        if (verifyOnly)
        {
            PasswordHashing(seconds, hashToo: false);
            return 0;
        }

        // The bytes a floor signs: header '.' payload of a token made now.
        string token = new FloorToken.Hs256().Next();
        byte[] input = Encoding.ASCII.GetBytes(token[..token.LastIndexOf('.')]);
        Primitive("hs256", new FloorToken.Hs256(), (k, sig) => ((FloorToken.Hs256)k).Verify(input, sig), input, seconds);
        Primitive("es256", new FloorToken.Es256(), (k, sig) => ((FloorToken.Es256)k).Verify(input, sig), input, seconds);
        Primitive("eddsa", new FloorToken.EdDsa(), (k, sig) => ((FloorToken.EdDsa)k).Verify(input, sig), input, seconds);
        Primitive("rs256", new FloorToken.Rs256(), (k, sig) => ((FloorToken.Rs256)k).Verify(input, sig), input, seconds);
        PasswordHashing(seconds * 3);
        return 0;
    }

    private static void Primitive(string name, FloorToken key, Func<FloorToken, byte[], bool> verify, byte[] input, double seconds)
    {
        byte[] signature = new byte[256];
        byte[] written = signature[..key.Sign(input, signature)];
        if (!verify(key, written))
            throw new InvalidOperationException($"{name}: the signature just made does not verify.");
        Report($"{name}_sign", Time(() => key.Sign(input, signature), seconds));
        Report($"{name}_verify", Time(() => verify(key, written), seconds));
    }

    /// <summary>Latchkey's hasher as configured by default; a login costs one <see cref="PasswordHasher.Verify"/>.</summary>
    private static void PasswordHashing(double seconds, bool hashToo = true)
    {
        var options = new PasswordHashingOptions();
        var hasher = new PasswordHasher(options);
        const string password = "correct horse battery staple";
        string hash = hasher.Hash(password);
        string parameters = $"m={options.MemoryKiB},t={options.Iterations},p=1";
        if (hashToo)
            Report("argon2id_hash", Time(() => hasher.Hash(password), seconds, minimum: 5), parameters);
        Report("argon2id_verify", Time(() => hasher.Verify(password, hash, out _), seconds, minimum: 5), parameters);
    }

    /// <summary>
    /// Runs <paramref name="operation"/> (after a short warm-up) until <paramref name="seconds"/> have passed. Returns the
    /// wall-clock time and the process's CPU time: on a shared core the first includes other programs' turns, the second not.
    /// </summary>
    private static (long Count, double Seconds, double CpuSeconds) Time(Action operation, double seconds, int minimum = 100)
    {
        for (int i = 0; i < Math.Min(minimum, 20); i++)
            operation();
        using Process self = Process.GetCurrentProcess();
        TimeSpan cpuBefore = self.TotalProcessorTime;
        long count = 0;
        long started = Stopwatch.GetTimestamp();
        TimeSpan limit = TimeSpan.FromSeconds(seconds);
        while (count < minimum || Stopwatch.GetElapsedTime(started) < limit)
        {
            operation();
            count++;
        }

        double elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        self.Refresh();
        return (count, elapsed, (self.TotalProcessorTime - cpuBefore).TotalSeconds);
    }

    private static void Report(string name, (long Count, double Seconds, double CpuSeconds) run, string? parameters = null)
    {
        double perSecond = run.Count / run.Seconds;
        string extra = parameters is null ? "" : $",\"params\":\"{parameters}\"";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"name\":\"{name}\",\"per_second\":{perSecond:0.0},\"us\":{1e6 / perSecond:0.00},\"cpu_us\":{1e6 * run.CpuSeconds / run.Count:0.00},\"count\":{run.Count}{extra}}}"));
    }
}
