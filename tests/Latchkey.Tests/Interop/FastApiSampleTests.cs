using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Latchkey.Testing;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Interop;

/// <summary>
/// Per algorithm: a Latchkey whose issuer is its own address, and samples/fastapi-protected-api run by Debian's
/// /usr/bin/python3 with uvicorn, pointed at it. Started on first use. Missing Debian packages fail, never skip.
/// </summary>
public sealed partial class FastApiSampleServers : IAsyncDisposable
{
    private const string Python = "/usr/bin/python3";
    private const string Install = "apt-get install python3-fastapi python3-jwt python3-uvicorn";
    private const string Password = "correct horse battery staple";

    private readonly ConcurrentDictionary<string, Lazy<Task<FastApiSetup>>> _setups = new();
    private readonly ConcurrentBag<IAsyncDisposable> _started = [];

    public Task<FastApiSetup> GetAsync(string algorithm) =>
        _setups.GetOrAdd(algorithm, a => new Lazy<Task<FastApiSetup>>(() => StartAsync(a))).Value;

    private async Task<FastApiSetup> StartAsync(string algorithm)
    {
        await RequireDebianPackagesAsync();

        LatchkeyTestServer latchkey = await LatchkeyTestServer.StartAsync(o => o.SigningAlgorithm = algorithm, issuerIsBaseAddress: true);
        _started.Add(latchkey);
        string issuer = latchkey.BaseAddress.GetLeftPart(UriPartial.Authority);

        await latchkey.AddUserAsync("alice", Password, "admin");
        await latchkey.AddUserAsync("bob", Password);
        string admin = await latchkey.GetAccessTokenAsync("alice", Password);
        string user = await latchkey.GetAccessTokenAsync("bob", Password);
        Assert.Equal(issuer, HttpAssert.Part(admin, 1).GetProperty("iss").GetString());

        // Uvicorn 0.17 prints the port it was given, not the one bound for port 0: pick a free one first.
        int port = FreeLoopbackPort();
        ListeningProcess api = await ListeningProcess.StartAsync(Python,
            ["-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            new ListeningProcessOptions
            {
                WorkingDirectory = SampleDirectory(),
                ListeningLine = UvicornRunning(),
                StartupTimeout = TimeSpan.FromSeconds(30),
                Environment = new Dictionary<string, string?>
                {
                    ["LATCHKEY_AUTHORITY"] = issuer,
                    ["LATCHKEY_AUDIENCE"] = "api",
                    ["PYTHONUNBUFFERED"] = "1",
                    // Keep a pyenv or virtualenv of the caller from shadowing Debian's site-packages.
                    ["PYTHONPATH"] = null,
                    ["PYTHONHOME"] = null,
                    ["VIRTUAL_ENV"] = null,
                },
            }, TestContext.Current.CancellationToken);
        _started.Add(api);

        var http = new HttpClient { BaseAddress = api.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        return new FastApiSetup(algorithm, api, http, admin, user);
    }

    private static async Task RequireDebianPackagesAsync()
    {
        if (!File.Exists(Python))
            Assert.Fail($"{Python} is missing. Install Debian's Python and the sample's packages: {Install}");
        DebianPython.Result check = await DebianPython.ExecuteAsync("import fastapi, jwt, uvicorn", []);
        if (check.ExitCode != 0)
            Assert.Fail($"FastAPI, PyJWT or uvicorn is missing from {Python}: {Install}\n{check.StandardError}");
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>samples/fastapi-protected-api, found by walking up from the test binaries to the repository root (Latchkey.slnx).</summary>
    private static string SampleDirectory()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Latchkey.slnx")))
                return Path.Combine(d.FullName, "samples", "fastapi-protected-api");
        }

        throw new InvalidOperationException($"No Latchkey.slnx above {AppContext.BaseDirectory}: cannot find samples/fastapi-protected-api.");
    }

    [GeneratedRegex(@"Uvicorn running on (?<url>https?://\S+)")]
    private static partial Regex UvicornRunning();

    public async ValueTask DisposeAsync()
    {
        foreach (Lazy<Task<FastApiSetup>> setup in _setups.Values)
        {
            if (setup.IsValueCreated && setup.Value.IsCompletedSuccessfully)
                setup.Value.Result.Http.Dispose();
        }

        // The APIs first, then the servers they fetch keys from.
        foreach (IAsyncDisposable started in _started.OrderBy(s => s is LatchkeyTestServer))
            await started.DisposeAsync();
    }
}

/// <summary>A running FastAPI sample and tokens from its Latchkey: alice (role admin) and bob (no role).</summary>
public sealed record FastApiSetup(string Algorithm, ListeningProcess Process, HttpClient Http, string AdminToken, string UserToken)
{
    public Task<HttpResponseMessage> GetAsync(string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return Http.SendAsync(request);
    }
}

/// <summary>
/// samples/fastapi-protected-api (FastAPI, PyJWT's PyJWKClient on Latchkey's JWKS, a dependency for role "admin")
/// accepts Latchkey's tokens and answers as its README says: 200 for a valid token, 403 without the role on /admin,
/// 401 with a Bearer challenge for no token or an altered one.
/// </summary>
public sealed class FastApiSampleTests(FastApiSampleServers apis) : IClassFixture<FastApiSampleServers>
{
    public static TheoryData<string> Algorithms => new(JwtAlgorithms.ES256, JwtAlgorithms.RS256, JwtAlgorithms.EdDSA);

    [Theory]
    [MemberData(nameof(Algorithms))]
    public async Task AdminToken_HelloAndAdmin_Return200WithTheCaller(string algorithm)
    {
        FastApiSetup api = await apis.GetAsync(algorithm);
        string sub = HttpAssert.Part(api.AdminToken, 1).GetProperty("sub").GetString()!;

        foreach (string path in (string[])["/hello", "/admin"])
        {
            using HttpResponseMessage response = await api.GetAsync(path, api.AdminToken);
            JsonElement body = await OkAsync(api, response);
            Assert.Equal(path.TrimStart('/'), body.GetProperty("endpoint").GetString());
            Assert.Equal(sub, body.GetProperty("sub").GetString());
            Assert.Equal("alice", body.GetProperty("name").GetString());
            Assert.Equal(["admin"], body.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        }
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public async Task UserToken_Hello200_Admin403(string algorithm)
    {
        FastApiSetup api = await apis.GetAsync(algorithm);

        using HttpResponseMessage hello = await api.GetAsync("/hello", api.UserToken);
        using HttpResponseMessage admin = await api.GetAsync("/admin", api.UserToken);

        Assert.Equal("bob", (await OkAsync(api, hello)).GetProperty("name").GetString());
        Assert.True(admin.StatusCode == HttpStatusCode.Forbidden,
            $"{algorithm}: expected 403, got {(int)admin.StatusCode}\nThe sample's output:\n{api.Process.Output}");
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public async Task NoToken_HelloAndAdmin_Return401WithBearerChallenge(string algorithm)
    {
        FastApiSetup api = await apis.GetAsync(algorithm);

        using HttpResponseMessage hello = await api.GetAsync("/hello", token: null);
        using HttpResponseMessage admin = await api.GetAsync("/admin", token: null);

        AssertUnauthorized(api, hello, error: null);
        AssertUnauthorized(api, admin, error: null);
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public async Task TamperedToken_HelloAndAdmin_Return401InvalidToken(string algorithm)
    {
        FastApiSetup api = await apis.GetAsync(algorithm);
        string tampered = InteropAlgorithms.TamperPayload(api.AdminToken);

        using HttpResponseMessage hello = await api.GetAsync("/hello", tampered);
        using HttpResponseMessage admin = await api.GetAsync("/admin", tampered);

        AssertUnauthorized(api, hello, "invalid_token");
        AssertUnauthorized(api, admin, "invalid_token");
    }

    private static async Task<JsonElement> OkAsync(FastApiSetup api, HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK,
            $"{api.Algorithm}: expected 200, got {(int)response.StatusCode} {response.Headers.WwwAuthenticate}: {body}\nThe sample's output:\n{api.Process.Output}");
        return JsonDocument.Parse(body).RootElement;
    }

    /// <summary>401 with a Bearer challenge; no token gets a bare challenge, a failing one names <c>invalid_token</c> (RFC 6750 §3.1).</summary>
    private static void AssertUnauthorized(FastApiSetup api, HttpResponseMessage response, string? error)
    {
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized,
            $"{api.Algorithm}: expected 401, got {(int)response.StatusCode}\nThe sample's output:\n{api.Process.Output}");
        AuthenticationHeaderValue challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Equal(error is null ? null : $"error=\"{error}\"", challenge.Parameter);
    }
}
