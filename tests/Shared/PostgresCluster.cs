using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Npgsql;
using Xunit;

namespace Latchkey.Testing;

/// <summary>
/// A throwaway PostgreSQL server for the tests, from Debian's <c>postgresql</c> package: one per test process,
/// initialized on first use in a fresh temporary folder, listening only on 127.0.0.1 (a free port) and on a unix
/// socket in that folder, with password (SCRAM) authentication. <see cref="CreateDatabaseAsync"/> hands each test
/// an empty database of its own. When the process exits the server is stopped and its folder deleted.
/// When PostgreSQL is not installed, every test that asks for a database is skipped, saying how to install it.
/// </summary>
/// <remarks>
/// <c>initdb</c> and <c>postgres</c> refuse to run as root: as root (CI, containers) they run as the package's
/// <c>postgres</c> user, which then owns the folder. A run that was killed (so never reached its exit handler) leaves
/// its server behind; the next run stops and deletes such leftovers first.
/// </remarks>
public static class PostgresCluster
{
    public const string SkipReason = "PostgreSQL is not installed (apt-get install postgresql); the PostgreSQL tests are skipped.";

    private const string FolderPrefix = "latchkey-pg-";
    private const string Superuser = "postgres";
    private const string SystemUser = "postgres";

    private static readonly string? BinDirectory = FindBinaries();
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static Server? _server;
    private static Exception? _startFailure;
    private static int _databases;
    private static readonly Lock NextGate = new();
    private static Task<string>? _next;

    /// <summary>True when PostgreSQL's binaries are installed (and, when running as root, its <c>postgres</c> user exists).</summary>
    public static bool IsAvailable => BinDirectory is not null;

    /// <summary>Skips the calling test, saying how to install PostgreSQL, when it is not installed.</summary>
    [MemberNotNull(nameof(BinDirectory))]
    public static void SkipUnlessAvailable()
    {
        if (BinDirectory is null)
            Assert.Skip(SkipReason);
    }

    /// <summary>
    /// Creates an empty database and returns an Npgsql connection string to it (as the cluster's superuser, over TCP).
    /// Starts the cluster on first use. Skips the calling test when PostgreSQL is not installed.
    /// </summary>
    public static async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken = default)
    {
        Server server = await GetServerAsync(cancellationToken);
        // Each call makes the database for the next one, in the background: the test that asks gets one at once, while
        // its server starts. A prefetched database that failed (the cluster was stopped meanwhile) is made again.
        Task<string> mine;
        lock (NextGate)
        {
            mine = _next is { IsFaulted: false, IsCanceled: false } ? _next : server.CreateDatabaseAsync(NextName());
            _next = server.CreateDatabaseAsync(NextName());
        }

        return await mine.WaitAsync(cancellationToken);
    }

    private static string NextName() => "latchkey_" + Interlocked.Increment(ref _databases).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Drops a database made by <see cref="CreateDatabaseAsync"/>, closing any connection still open to it. Optional:
    /// the whole cluster goes at exit anyway, but each database takes some megabytes of disk until then.
    /// </summary>
    public static async Task DropDatabaseAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        Server server = await GetServerAsync(cancellationToken);
        string name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await server.ExecuteAsync($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", cancellationToken);
    }

    /// <summary>
    /// Stops the server (<c>pg_ctl stop -m fast</c>: open connections are cut), keeping its data, port and password,
    /// so that tests can see what Latchkey does while its database is down. Every database of the process goes down
    /// with it, so only tests that run alone may call this. <see cref="StartAsync"/> brings it back.
    /// </summary>
    public static async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await Gate.WaitAsync(cancellationToken);
        try
        {
            if (_server is { Running: true })
                await _server.StopAsync("fast", cancellationToken);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Starts the server again after <see cref="StopAsync"/>, on the same port with the same data; starts it for the first time otherwise.</summary>
    public static async Task StartAsync(CancellationToken cancellationToken = default)
    {
        Server server = await GetServerAsync(cancellationToken);
        await Gate.WaitAsync(cancellationToken);
        try
        {
            if (!server.Running)
                await server.StartAsync(cancellationToken);
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<Server> GetServerAsync(CancellationToken cancellationToken)
    {
        SkipUnlessAvailable();
        if (Volatile.Read(ref _server) is { } existing)
            return existing;

        await Gate.WaitAsync(cancellationToken);
        try
        {
            // A cluster that failed to start once fails every test that asks for it, with the same reason, without trying again.
            if (_startFailure is not null)
                throw new InvalidOperationException("The test PostgreSQL cluster could not be started (see the inner exception).", _startFailure);
            if (_server is null)
            {
                try
                {
                    RemoveLeftovers(BinDirectory);
                    Server server = await Server.CreateAsync(BinDirectory, cancellationToken);
                    AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Destroy();
                    Volatile.Write(ref _server, server);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _startFailure = e;
                    throw;
                }
            }

            return _server;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>
    /// Debian installs each major version side by side in /usr/lib/postgresql/&lt;version&gt;/bin and puts only the client
    /// tools on PATH: take the highest version there, else an <c>initdb</c> on PATH (other distributions, a source build).
    /// </summary>
    private static string? FindBinaries()
    {
        if (OperatingSystem.IsWindows())
            return null;
        if (Environment.IsPrivilegedProcess && !File.ReadLines("/etc/passwd").Any(l => l.StartsWith(SystemUser + ":", StringComparison.Ordinal)))
            return null;

        static bool Complete(string dir) => File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl"))
            && File.Exists(Path.Combine(dir, "postgres"));

        const string debian = "/usr/lib/postgresql";
        if (Directory.Exists(debian))
        {
            string? newest = Directory.GetDirectories(debian)
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: decimal.TryParse(Path.GetFileName(d), CultureInfo.InvariantCulture, out decimal v) ? v : -1))
                .Where(d => d.Version >= 0 && Complete(d.Dir))
                .OrderByDescending(d => d.Version)
                .Select(d => d.Dir)
                .FirstOrDefault();
            if (newest is not null)
                return newest;
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(Complete);
    }

    /// <summary>Stops and deletes the clusters of earlier test processes that died without cleaning up (killed, or timed out).</summary>
    private static void RemoveLeftovers(string bin)
    {
        foreach (string folder in Directory.GetDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            try
            {
                if (!int.TryParse(File.ReadAllText(Path.Combine(folder, "owner.pid")), CultureInfo.InvariantCulture, out int owner) || IsAlive(owner))
                    continue;
                if (File.Exists(Path.Combine(folder, "data", "postmaster.pid")))
                    Run(bin, "pg_ctl", ["stop", "-D", Path.Combine(folder, "data"), "-m", "immediate", "-w"], TimeSpan.FromSeconds(30), throwOnFailure: false);
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // Another process is cleaning it up, or it is not ours to touch; leave it.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Runs one of PostgreSQL's programs to completion, as the <c>postgres</c> user when we are root; returns its output.</summary>
    private static (int ExitCode, string Output) Run(string bin, string program, IReadOnlyList<string> arguments, TimeSpan timeout, bool throwOnFailure = true) =>
        Environment.IsPrivilegedProcess
            ? RunProgram("runuser", ["-u", SystemUser, "--", Path.Combine(bin, program), .. arguments], timeout, throwOnFailure)
            : RunProgram(Path.Combine(bin, program), arguments, timeout, throwOnFailure);

    private static (int ExitCode, string Output) RunProgram(string fileName, IReadOnlyList<string> arguments, TimeSpan timeout, bool throwOnFailure)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            startInfo.ArgumentList.Add(argument);
        // Messages in English whatever the machine's locale, so that failures read the same everywhere.
        startInfo.Environment["LC_ALL"] = "C";

        using Process process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        string output = stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult();
        if (process.ExitCode != 0 && throwOnFailure)
            throw new InvalidOperationException($"{string.Join(' ', [fileName, .. arguments])} failed (exit code {process.ExitCode}):\n{output}");
        return (process.ExitCode, output);
    }

    /// <summary>As root, gives <paramref name="path"/> and everything in it to the <c>postgres</c> user, which runs the server.</summary>
    private static void ChownToSystemUser(string path)
    {
        if (Environment.IsPrivilegedProcess)
            RunProgram("chown", ["-R", SystemUser + ":", path], TimeSpan.FromSeconds(30), throwOnFailure: true);
    }

    /// <summary>The one cluster: its folder, port and password, and an admin connection for creating databases.</summary>
    private sealed class Server
    {
        private readonly string _bin;
        private readonly string _folder;
        private readonly string _password;
        private NpgsqlDataSource? _admin;

        private Server(string bin, string folder, string password, int port)
        {
            _bin = bin;
            _folder = folder;
            _password = password;
            Port = port;
        }

        public int Port { get; private set; }

        public bool Running { get; private set; }

        private string Data => Path.Combine(_folder, "data");

        private string Log => Path.Combine(_folder, "postgres.log");

        public static async Task<Server> CreateAsync(string bin, CancellationToken cancellationToken)
        {
            string folder = Directory.CreateTempSubdirectory(FolderPrefix).FullName;
            await File.WriteAllTextAsync(Path.Combine(folder, "owner.pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken);
            string password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var server = new Server(bin, folder, password, FreePort());
            try
            {
                string passwordFile = Path.Combine(folder, "password");
                await File.WriteAllTextAsync(passwordFile, password + "\n", cancellationToken);
                Directory.CreateDirectory(Path.Combine(folder, "socket"));
                ChownToSystemUser(folder);
                // --no-sync: initdb skips flushing the new files to disk; the cluster is thrown away, never recovered from a crash.
                Run(bin, "initdb", ["-D", server.Data, "-U", Superuser, "--pwfile", passwordFile, "--auth", "scram-sha-256",
                    "-E", "UTF8", .. Collation(bin), "--no-sync", "--no-instructions"], TimeSpan.FromMinutes(2));
                File.Delete(passwordFile);
                await File.AppendAllTextAsync(Path.Combine(server.Data, "postgresql.conf"), $"""

                    # Added by the tests (tests/Shared/PostgresCluster.cs).
                    include_if_exists = 'latchkey-test.conf'
                    # Loopback only, and a socket in the cluster's own folder (not the system's /var/run/postgresql).
                    listen_addresses = '127.0.0.1'
                    unix_socket_directories = '{Path.Combine(folder, "socket")}'
                    # Small: the machines that run the tests have two cores and also run the tests' servers.
                    shared_buffers = 16MB
                    # Enough for the tests that send 50 concurrent requests to each of a few servers at once.
                    max_connections = 300
                    # No fsync, for speed: DROP DATABASE and every commit would wait for the disk. Only a crash of the whole
                    # machine could lose data, and the cluster is thrown away anyway; stopping or killing the server loses nothing.
                    fsync = off
                    """, cancellationToken);
                await server.StartAsync(cancellationToken);
                server._admin = NpgsqlDataSource.Create(server.ConnectionString("postgres"));
                return server;
            }
            catch
            {
                server.Destroy();
                throw;
            }
        }

        /// <summary>
        /// A production cluster sorts text by the rules of a language (Debian's takes the system's locale, often en_US.UTF-8),
        /// not by bytes as SQLite does; so does this one (ICU's en-US, from PostgreSQL 15 on), so that the tests see what
        /// ORDER BY on text does in production. C.UTF-8, the rest of the locale, is on every Debian system.
        /// </summary>
        private static string[] Collation(string bin)
        {
            string version = Run(bin, "initdb", ["--version"], TimeSpan.FromSeconds(30)).Output; // "initdb (PostgreSQL) 15.14 (Debian …)"
            int major = int.TryParse(version.Split(' ', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(2)?.Split('.')[0],
                CultureInfo.InvariantCulture, out int v) ? v : 0;
            return major >= 15 ? ["--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US"] : ["--no-locale"];
        }

        public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Database = database,
            Username = Superuser,
            Password = _password,
        }.ConnectionString;

        public async Task<string> CreateDatabaseAsync(string name)
        {
            await ExecuteAsync($"CREATE DATABASE {name}", CancellationToken.None);
            return ConnectionString(name);
        }

        public async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
        {
            await using NpgsqlCommand command = _admin!.CreateCommand(sql);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        /// <summary>Starts the server on <see cref="Port"/>; the first start tries another port if this one was taken meanwhile.</summary>
        public Task StartAsync(CancellationToken cancellationToken) => Task.Run(() =>
        {
            for (int attempt = 1; ; attempt++)
            {
                File.WriteAllText(Path.Combine(Data, "latchkey-test.conf"), $"port = {Port}\n");
                (int exitCode, string output) = Run(_bin, "pg_ctl", ["start", "-D", Data, "-l", Log, "-w", "-t", "60"], TimeSpan.FromSeconds(90), throwOnFailure: false);
                if (exitCode == 0)
                {
                    Running = true;
                    return;
                }

                string log = File.Exists(Log) ? File.ReadAllText(Log) : "";
                if (attempt < 3 && _admin is null && log.Contains("could not bind", StringComparison.Ordinal))
                {
                    Port = FreePort();
                    continue;
                }

                throw new InvalidOperationException($"PostgreSQL did not start:\n{output}\n{log}");
            }
        }, cancellationToken);

        public Task StopAsync(string mode, CancellationToken cancellationToken) => Task.Run(() =>
        {
            Run(_bin, "pg_ctl", ["stop", "-D", Data, "-m", mode, "-w", "-t", "60"], TimeSpan.FromSeconds(90));
            Running = false;
        }, cancellationToken);

        /// <summary>At exit: stop the server and delete its folder. Never throws: it runs in the process's exit handler.</summary>
        public void Destroy()
        {
            try
            {
                _admin?.Dispose();
                if (File.Exists(Path.Combine(Data, "postmaster.pid")))
                    Run(_bin, "pg_ctl", ["stop", "-D", Data, "-m", "fast", "-w", "-t", "60"], TimeSpan.FromSeconds(90), throwOnFailure: false);
                Directory.Delete(_folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                Console.Error.WriteLine($"Could not remove the test PostgreSQL cluster in {_folder}: {e.Message}");
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
