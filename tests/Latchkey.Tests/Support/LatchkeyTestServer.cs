using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Latchkey.Accounts;
using Latchkey.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Latchkey.Tests.Support;

/// <summary>
/// A real Latchkey on Kestrel at 127.0.0.1 (a free port), with a real SQLite file in a fresh folder and a fake
/// clock that tests move. Everything the server logs is kept in <see cref="Logs"/>, and checked on dispose against
/// every secret the suite has handled (<see cref="SecretsSeen"/>).
/// Built with <c>LATCHKEY_POSTGRES</c> (tests/Latchkey.Postgres.Tests), each data folder gets a fresh PostgreSQL database
/// and master key instead (<see cref="PostgresCluster"/>); the tests cannot tell the difference.
/// </summary>
public sealed class LatchkeyTestServer : IAsyncDisposable
{
    public const string Issuer = "http://latchkey.test";

    private readonly WebApplication _app;
    private readonly bool _ownsDataDirectory;

    private LatchkeyTestServer(WebApplication app, FakeTimeProvider time, string dataDirectory, bool ownsDataDirectory, ConcurrentQueue<string> logs)
    {
        _app = app;
        Time = time;
        DataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
        Logs = logs;
        BaseAddress = new Uri(app.Urls.First());
        Client = CreateClient();
    }

    public FakeTimeProvider Time { get; }
    public string DataDirectory { get; }
    public Uri BaseAddress { get; }
    public HttpClient Client { get; }
    public ConcurrentQueue<string> Logs { get; }
    public IServiceProvider Services => _app.Services;

    /// <param name="configure">Options to change; runs after the test defaults (<see cref="Issuer"/>, the data folder).</param>
    /// <param name="dataDirectory">An existing data folder to reuse; a fresh one, deleted on dispose, when null.</param>
    /// <param name="time">The clock; a fake one at the real now when null.</param>
    /// <param name="issuerIsBaseAddress">
    /// Listen on a port picked up front and make the issuer this very address (<c>http://127.0.0.1:PORT</c>), as in
    /// production, where verifiers that know only the authority (ASP.NET Core's JwtBearer) fetch
    /// <c>{issuer}/.well-known/openid-configuration</c> and compare <c>iss</c> with it.
    /// </param>
    /// <param name="services">Registrations made before <c>AddLatchkey</c>, which then keeps them (TryAdd): e.g. a store a test wraps.</param>
    /// <param name="alsoListenOn">More listen URLs after the first (which stays <see cref="BaseAddress"/>), e.g. a metrics port.</param>
    /// <param name="host">
    /// The host of the base address, with <paramref name="issuerIsBaseAddress"/>: <c>localhost</c> for passkeys in a browser
    /// (a relying party id is a domain name, never an IP address).
    /// </param>
    public static async Task<LatchkeyTestServer> StartAsync(Action<LatchkeyOptions>? configure = null, string? dataDirectory = null,
        FakeTimeProvider? time = null, bool issuerIsBaseAddress = false, Action<IServiceCollection>? services = null, string[]? alsoListenOn = null,
        string host = "127.0.0.1")
    {
        if (!issuerIsBaseAddress)
            return await StartOnAsync(string.Join(";", ["http://127.0.0.1:0", .. alsoListenOn ?? []]), Issuer, configure, dataDirectory, time, services);

        // The port is free when picked but could be taken before Kestrel binds it: try again with another.
        for (int attempt = 1; ; attempt++)
        {
            string address = $"http://{host}:{FreePort()}";
            try
            {
                return await StartOnAsync(string.Join(";", [address, .. alsoListenOn ?? []]), address, configure, dataDirectory, time, services);
            }
            catch (IOException) when (attempt < 3)
            {
            }
        }
    }

    /// <summary>A TCP port free on 127.0.0.1 right now (another process could take it before it is bound).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<LatchkeyTestServer> StartOnAsync(string urls, string issuer, Action<LatchkeyOptions>? configure, string? dataDirectory, FakeTimeProvider? time,
        Action<IServiceCollection>? services)
    {
#if LATCHKEY_POSTGRES
        PostgresCluster.SkipUnlessAvailable();
#endif
        bool owns = dataDirectory is null;
        dataDirectory ??= Directory.CreateTempSubdirectory("latchkey-test-").FullName;
        // Start at the real time, so that outside verifiers (PyJWT) that use the real clock accept the tokens, half a millisecond
        // past a whole one: the store keeps instants to the millisecond, and a clock that never moves would otherwise, once in
        // ten thousand starts, put an admin's change and the next login at the same stored instant, which real time never does
        // (the login would then be refused as begun before the change's cut-off).
        time ??= new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()).AddTicks(5_000));
        var logs = new ConcurrentQueue<string>();

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(urls);
        builder.Logging.ClearProviders().AddProvider(new QueueLoggerProvider(logs)).SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddSingleton<TimeProvider>(time);
        // Before AddLatchkey, whose registrations give way to these (a store wrapped by a test, say).
        services?.Invoke(builder.Services);
#if LATCHKEY_POSTGRES
        (string database, string masterKey) = await PostgresForAsync(dataDirectory);
#endif
        builder.Services.AddLatchkey(configure: o =>
        {
            o.Issuer = issuer;
            o.DataDirectory = dataDirectory;
#if LATCHKEY_POSTGRES
            o.Database = database;
            o.MasterKey = masterKey;
#endif
            configure?.Invoke(o);
        });
        WebApplication app = builder.Build();
        app.MapLatchkey();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            await DeleteDataAsync(dataDirectory, owns);
            throw;
        }

        return new LatchkeyTestServer(app, time, dataDirectory, owns, logs);
    }

    /// <summary>A client whose connections come from <paramref name="localAddress"/> (any 127.x address is loopback).</summary>
    public HttpClient CreateClient(string localAddress = "127.0.0.1")
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        return new HttpClient(new SecretsSeen.RecordingHandler(handler)) { BaseAddress = BaseAddress };
    }

    public async Task AddUserAsync(string username, string password, params string[] roles)
    {
        SecretsSeen.Record(password, "a password");
        AccountResult result = await Services.GetRequiredService<UserAccounts>().AddAsync(username, password, roles, "test", CancellationToken.None);
        Assert.True(result.Succeeded, result.Error);
    }

    public static FormUrlEncodedContent PasswordForm(string username, string password, string? scope = null) =>
        new(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = username,
            ["password"] = password,
            ["scope"] = scope ?? "",
        });

    public Task<HttpResponseMessage> PostTokenAsync(string username, string password, string? scope = null, HttpClient? client = null)
    {
        SecretsSeen.Record(password, "a password");
        return (client ?? Client).PostAsync("/token", PasswordForm(username, password, scope));
    }

    /// <summary>Logs in and returns the access token, failing the test if login fails.</summary>
    public async Task<string> GetAccessTokenAsync(string username, string password)
    {
        using HttpResponseMessage response = await PostTokenAsync(username, password);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>Logs in with scope latchkey:admin (a token for Latchkey's admin API) and returns the access token.</summary>
    public async Task<string> GetAdminTokenAsync(string username, string password)
    {
        using HttpResponseMessage response = await PostTokenAsync(username, password, Protocol.Scopes.Admin);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;
    }

    public Task<HttpResponseMessage> GetWithBearerAsync(string path, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return Client.SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await DeleteDataAsync(DataDirectory, _ownsDataDirectory);
        // Every test that used a server is also a secrecy test: nothing secret the suite has handled is in this log.
        SecretsSeen.AssertNoneIn(string.Join("\n", Logs));
    }

    /// <summary>Deletes the data folder (and, on PostgreSQL, its database) when this server made it; else leaves it to the test.</summary>
    private static async Task DeleteDataAsync(string dataDirectory, bool owns)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (!owns)
            return;
#if LATCHKEY_POSTGRES
        if (PostgresByFolder.TryRemove(dataDirectory, out (string Database, string) postgres))
            await PostgresCluster.DropDatabaseAsync(postgres.Database);
#endif
        Directory.Delete(dataDirectory, recursive: true);
    }

#if LATCHKEY_POSTGRES
    /// <summary>
    /// Each data folder's database and master key. A server started again on the same folder (to test a restart, or a
    /// second server beside the first) finds the same data, as it would in the folder's SQLite file.
    /// </summary>
    private static readonly ConcurrentDictionary<string, (string Database, string MasterKey)> PostgresByFolder = new();

    private static async Task<(string Database, string MasterKey)> PostgresForAsync(string dataDirectory)
    {
        if (PostgresByFolder.TryGetValue(dataDirectory, out (string, string) known))
            return known;
        (string Database, string MasterKey) created = (await PostgresCluster.CreateDatabaseAsync(), Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        // Never to be logged, like any other secret the suite handles.
        SecretsSeen.Record(created.MasterKey, "the master key");
        SecretsSeen.Record(new Npgsql.NpgsqlConnectionStringBuilder(created.Database).Password, "the database password");
        return PostgresByFolder.GetOrAdd(dataDirectory, created);
    }
#endif

    private sealed class QueueLoggerProvider(ConcurrentQueue<string> logs) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new QueueLogger(categoryName, logs);

        public void Dispose()
        {
        }
    }

    private sealed class QueueLogger(string category, ConcurrentQueue<string> logs) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs.Enqueue($"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)} {exception}");
    }
}
