using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Latchkey.Testing;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Interop;

/// <summary>
/// Per algorithm: a Latchkey whose issuer is its own address, and the real samples/ProtectedApi process (stock
/// JwtBearer, only Authority and Audience set) pointed at it, with the tokens the tests present. Started on first use.
/// </summary>
public sealed class ProtectedApiServers : IAsyncDisposable
{
    private const string Password = "correct horse battery staple";

    private readonly ConcurrentDictionary<string, Lazy<Task<ProtectedApiSetup>>> _setups = new();
    private readonly ConcurrentBag<IAsyncDisposable> _started = [];

    public Task<ProtectedApiSetup> GetAsync(string algorithm) =>
        _setups.GetOrAdd(algorithm, a => new Lazy<Task<ProtectedApiSetup>>(() => StartAsync(a))).Value;

    private async Task<ProtectedApiSetup> StartAsync(string algorithm)
    {
        LatchkeyTestServer latchkey = await LatchkeyTestServer.StartAsync(o => o.SigningAlgorithm = algorithm, issuerIsBaseAddress: true);
        _started.Add(latchkey);
        string issuer = latchkey.BaseAddress.GetLeftPart(UriPartial.Authority);

        await latchkey.AddUserAsync("alice", Password, "admin");
        await latchkey.AddUserAsync("bob", Password);
        string secret = await latchkey.AddClientAsync("reports", ["client_credentials"], audience: "other");
        string admin = await latchkey.GetAccessTokenAsync("alice", Password);
        string user = await latchkey.GetAccessTokenAsync("bob", Password);
        using HttpResponseMessage response = await latchkey.PostFormAsync("/token",
            new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, basic: ("reports", secret));
        string otherAudience = (await HttpAssert.OkJsonAsync(response)).GetProperty("access_token").GetString()!;
        Assert.Equal("other", HttpAssert.Part(otherAudience, 1).GetProperty("aud").GetString());
        Assert.Equal(issuer, HttpAssert.Part(admin, 1).GetProperty("iss").GetString());

        string dll = Path.Combine(AppContext.BaseDirectory, "ProtectedApi.dll");
        if (!File.Exists(dll) || !File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")))
            throw new InvalidOperationException($"ProtectedApi.dll (with its runtimeconfig) was not copied to {AppContext.BaseDirectory}; check the ProtectedApi ProjectReference.");
        ListeningProcess api = await ListeningProcess.StartDotnetAsync(dll,
            ["--urls", "http://127.0.0.1:0", "--Latchkey:Authority", issuer, "--Latchkey:Audience", "api"],
            new ListeningProcessOptions
            {
                WorkingDirectory = AppContext.BaseDirectory,
                // The flags decide; keep stray settings of the machine running the tests out.
                Environment = new Dictionary<string, string?> { ["ASPNETCORE_URLS"] = null, ["ASPNETCORE_ENVIRONMENT"] = "Production" },
            }, TestContext.Current.CancellationToken);
        _started.Add(api);

        var http = new HttpClient { BaseAddress = api.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        return new ProtectedApiSetup(algorithm, api, http, admin, user, otherAudience);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (Lazy<Task<ProtectedApiSetup>> setup in _setups.Values)
        {
            if (setup.IsValueCreated && setup.Value.IsCompletedSuccessfully)
                setup.Value.Result.Http.Dispose();
        }

        // The APIs first, then the servers they fetch keys from.
        foreach (IAsyncDisposable started in _started.OrderBy(s => s is LatchkeyTestServer))
            await started.DisposeAsync();
    }
}

/// <summary>A running ProtectedApi and tokens from its Latchkey: alice (role admin), bob (no role), and a client's token for audience "other".</summary>
public sealed record ProtectedApiSetup(string Algorithm, ListeningProcess Process, HttpClient Http, string AdminToken, string UserToken, string OtherAudienceToken)
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
/// samples/ProtectedApi, a stock ASP.NET Core API (Microsoft.AspNetCore.Authentication.JwtBearer with only Authority
/// and Audience), accepts Latchkey's tokens for every asymmetric algorithm: it finds the keys through discovery and the
/// JWKS, maps <c>role</c> to roles for RequireRole, and refuses missing, altered and other-audience tokens.
/// HS* is not here: a verifier that knows only the Authority has no secret to check HMAC with.
/// </summary>
public sealed class ProtectedApiTests(ProtectedApiServers apis) : IClassFixture<ProtectedApiServers>
{
    [Theory]
    [MemberData(nameof(InteropAlgorithms.JwtBearerData), MemberType = typeof(InteropAlgorithms))]
    public async Task AdminToken_HelloAndAdmin_Return200WithTheCaller(string algorithm)
    {
        ProtectedApiSetup api = await apis.GetAsync(algorithm);
        string sub = HttpAssert.Part(api.AdminToken, 1).GetProperty("sub").GetString()!;

        foreach (string path in (string[])["/hello", "/admin"])
        {
            using HttpResponseMessage response = await api.GetAsync(path, api.AdminToken);
            JsonElement body = await OkAsync(api, response);
            Assert.Equal(sub, body.GetProperty("sub").GetString());
            Assert.Equal("alice", body.GetProperty("name").GetString());
            Assert.Equal(["admin"], body.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        }
    }

    [Theory]
    [MemberData(nameof(InteropAlgorithms.JwtBearerData), MemberType = typeof(InteropAlgorithms))]
    public async Task UserToken_Hello200_Admin403(string algorithm)
    {
        ProtectedApiSetup api = await apis.GetAsync(algorithm);

        using HttpResponseMessage hello = await api.GetAsync("/hello", api.UserToken);
        using HttpResponseMessage admin = await api.GetAsync("/admin", api.UserToken);

        Assert.Equal("bob", (await OkAsync(api, hello)).GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, admin.StatusCode);
    }

    [Theory]
    [MemberData(nameof(InteropAlgorithms.JwtBearerData), MemberType = typeof(InteropAlgorithms))]
    public async Task NoToken_Hello_Returns401(string algorithm)
    {
        ProtectedApiSetup api = await apis.GetAsync(algorithm);

        using HttpResponseMessage response = await api.GetAsync("/hello", token: null);

        AssertUnauthorized(api, response);
    }

    [Theory]
    [MemberData(nameof(InteropAlgorithms.JwtBearerData), MemberType = typeof(InteropAlgorithms))]
    public async Task TamperedToken_HelloAndAdmin_Return401(string algorithm)
    {
        ProtectedApiSetup api = await apis.GetAsync(algorithm);
        string tampered = InteropAlgorithms.TamperPayload(api.AdminToken);

        using HttpResponseMessage hello = await api.GetAsync("/hello", tampered);
        using HttpResponseMessage admin = await api.GetAsync("/admin", tampered);

        AssertUnauthorized(api, hello, "invalid_token");
        AssertUnauthorized(api, admin, "invalid_token");
    }

    [Theory]
    [MemberData(nameof(InteropAlgorithms.JwtBearerData), MemberType = typeof(InteropAlgorithms))]
    public async Task OtherAudienceToken_Hello_Returns401(string algorithm)
    {
        ProtectedApiSetup api = await apis.GetAsync(algorithm);

        using HttpResponseMessage response = await api.GetAsync("/hello", api.OtherAudienceToken);

        AssertUnauthorized(api, response, "invalid_token");
    }

    private static async Task<JsonElement> OkAsync(ProtectedApiSetup api, HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK,
            $"{api.Algorithm}: expected 200, got {(int)response.StatusCode} {response.Headers.WwwAuthenticate}: {body}\nProtectedApi's output:\n{api.Process.Output}");
        return JsonDocument.Parse(body).RootElement;
    }

    /// <summary>401 with a Bearer challenge; a presented token that fails validation names <c>invalid_token</c> (RFC 6750 §3.1).</summary>
    private static void AssertUnauthorized(ProtectedApiSetup api, HttpResponseMessage response, string? error = null)
    {
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized,
            $"{api.Algorithm}: expected 401, got {(int)response.StatusCode}\nProtectedApi's output:\n{api.Process.Output}");
        AuthenticationHeaderValue challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        if (error is not null)
            Assert.Contains($"error=\"{error}\"", challenge.Parameter);
    }
}
