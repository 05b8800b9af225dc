using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Latchkey.Keys;
using Latchkey.Server.Tests.Support;
using Xunit;

namespace Latchkey.Server.Tests.Cli;

public sealed class ServeCommandTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<JsonElement> JwksAsync(LatchkeyServer server)
    {
        using HttpResponseMessage response = await server.Http.GetAsync(".well-known/jwks.json", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using JsonDocument document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return document.RootElement.Clone();
    }

    /// <summary>The access tokens' key (ES256 by default) of a JWKS that holds it and, beside it, the id tokens' RS256 key.</summary>
    private static JsonElement AccessTokenKey(JsonElement jwks)
    {
        List<JsonElement> keys = jwks.GetProperty("keys").EnumerateArray().ToList();
        Assert.Equal(2, keys.Count);
        Assert.Single(keys, k => k.GetProperty("alg").GetString() == "RS256");
        return Assert.Single(keys, k => k.GetProperty("alg").GetString() != "RS256");
    }

    private Task<CliResult> ServeAndExpectExitAsync(IReadOnlyDictionary<string, string?>? environment = null) =>
        LatchkeyCli.RunAsync(
            ["serve", "--urls", "http://127.0.0.1:0", "--issuer", LatchkeyServer.Issuer, "--data-dir", _folder.Data],
            environment: environment, workingDirectory: _folder.Root);

    /// <summary>Starts once on the fresh folder, so it holds a database with one signing key and master.key.</summary>
    private async Task<string> FirstStartAsync()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);
        return AccessTokenKey(await JwksAsync(server)).GetProperty("kid").GetString()!;
    }

    [Fact]
    public async Task Serve_FreshFolder_CreatesDatabaseAndOwnerOnlyMasterKey()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);

        Assert.True(File.Exists(_folder.DatabasePath), server.Process.Output);
        Assert.True(File.Exists(_folder.MasterKeyPath), server.Process.Output);
        Assert.Equal(MasterKey.Length, Convert.FromBase64String(File.ReadAllText(_folder.MasterKeyPath).Trim()).Length);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_folder.MasterKeyPath));
        // The database holds password hashes: owner-only too.
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_folder.DatabasePath));
    }

    [Fact]
    public async Task Serve_FreshFolder_PublishesAnEs256AccessTokenKeyAndAnRs256IdTokenKey_PublicPartsOnly()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);

        JsonElement jwks = await JwksAsync(server);
        JsonElement key = AccessTokenKey(jwks);
        JsonElement idKey = Assert.Single(jwks.GetProperty("keys").EnumerateArray(), k => k.GetProperty("alg").GetString() == "RS256");
        Assert.Equal(["alg", "e", "kid", "kty", "n", "use"], idKey.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));

        Assert.Equal(["alg", "crv", "kid", "kty", "use", "x", "y"], key.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("EC", key.GetProperty("kty").GetString());
        Assert.Equal("P-256", key.GetProperty("crv").GetString());
        Assert.Equal("ES256", key.GetProperty("alg").GetString());
        Assert.Equal("sig", key.GetProperty("use").GetString());
        Assert.Equal(32, Base64Url.DecodeFromChars(key.GetProperty("x").GetString()).Length);
        Assert.Equal(32, Base64Url.DecodeFromChars(key.GetProperty("y").GetString()).Length);
        Assert.False(string.IsNullOrEmpty(key.GetProperty("kid").GetString()));
    }

    [Fact]
    public async Task Serve_Running_HealthzSaysOk()
    {
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);

        using HttpResponseMessage response = await server.Http.GetAsync("healthz", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", (await response.Content.ReadAsStringAsync(Ct)).Trim());
    }

    [Fact]
    public async Task Serve_SecondStartOnSameFolder_PublishesTheSameKey()
    {
        string firstKid = await FirstStartAsync();

        await using LatchkeyServer second = await LatchkeyServer.StartAsync(_folder);

        Assert.Equal(firstKid, AccessTokenKey(await JwksAsync(second)).GetProperty("kid").GetString());
    }

    [Fact]
    public async Task Serve_DifferentMasterKeyInEnvironment_RefusesToStartNamingTheMasterKey()
    {
        await FirstStartAsync();
        string otherKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

        CliResult result = await ServeAndExpectExitAsync(new Dictionary<string, string?> { ["LATCHKEY__MASTERKEY"] = otherKey });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("master key", result.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("not the one this database was set up with", result.Stderr);
        Assert.DoesNotContain("Now listening", result.Stdout);
        Assert.DoesNotContain(otherKey, result.AllOutput);
        // The refusal is the message above, not a host failure log with a stack trace.
        Assert.DoesNotContain("   at ", result.AllOutput);
        Assert.DoesNotContain("Hosting failed", result.AllOutput);
    }

    [Fact]
    public async Task Serve_HmacSigningWithADifferentMasterKey_RefusesToStartToo()
    {
        // No signing key is stored with HS256, yet the master key keys the hash of attempted usernames: nodes that hashed
        // them apart would each keep their own count of a guesser's failures.
        var hmac = new Dictionary<string, string?>
        {
            ["LATCHKEY__SIGNINGALGORITHM"] = "HS256",
            ["LATCHKEY__HMACSECRET"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["LATCHKEY__MASTERKEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        };
        await using (await LatchkeyServer.StartAsync(_folder, environment: hmac)) { }
        hmac["LATCHKEY__MASTERKEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

        CliResult result = await ServeAndExpectExitAsync(hmac);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("not the one this database was set up with", result.Stderr);
    }

    [Fact]
    public async Task Serve_MasterKeyFileDeletedAfterFirstStart_RefusesToStartSayingToRestoreIt()
    {
        await FirstStartAsync();
        File.Delete(_folder.MasterKeyPath);

        CliResult result = await ServeAndExpectExitAsync();

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("master.key", result.Stderr);
        Assert.Contains("Restore master.key", result.Stderr);
        Assert.DoesNotContain("Now listening", result.Stdout);
        // A fresh key file would only hide the problem.
        Assert.False(File.Exists(_folder.MasterKeyPath));
    }

    [Fact]
    public async Task Serve_StoredSigningKey_IsEncryptedUnderTheMasterKeyAndMatchesTheJwks()
    {
        JsonElement jwk;
        await using (LatchkeyServer server = await LatchkeyServer.StartAsync(_folder))
            jwk = AccessTokenKey(await JwksAsync(server));
        string kid = jwk.GetProperty("kid").GetString()!;

        object?[] row = Assert.Single(await Database.QueryAsync(_folder.DatabasePath, "SELECT kid, protected_private_key FROM signing_keys WHERE purpose = 'access_token'"));
        Assert.Equal(kid, row[0]);
        byte[] blob = Assert.IsType<byte[]>(row[1]);
        byte[] master = Convert.FromBase64String(File.ReadAllText(_folder.MasterKeyPath).Trim());

        byte[] pkcs8 = Assert.IsType<byte[]>(new KeyProtector(master).Unprotect(blob, kid));
        using ECDsa key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(pkcs8, out _);
        ECParameters parameters = key.ExportParameters(includePrivateParameters: true);

        Assert.Equal(jwk.GetProperty("x").GetString(), Base64Url.EncodeToString(parameters.Q.X));
        Assert.Equal(jwk.GetProperty("y").GetString(), Base64Url.EncodeToString(parameters.Q.Y));
        Assert.Equal(-1, blob.AsSpan().IndexOf(pkcs8));
        Assert.Equal(-1, blob.AsSpan().IndexOf(parameters.D));
        // The kid is bound to the ciphertext: the blob does not decrypt as another key's row.
        Assert.Null(new KeyProtector(master).Unprotect(blob, kid + "x"));
        // And another master key cannot read it.
        Assert.Null(new KeyProtector(RandomNumberGenerator.GetBytes(32)).Unprotect(blob, kid));
    }

    [Fact]
    public async Task Serve_DatabaseFromANewerLatchkey_RefusesToStartSayingToUpgrade()
    {
        await FirstStartAsync();
        await Database.ExecuteAsync(_folder.DatabasePath, "INSERT INTO schema_version (version) VALUES (99)");

        CliResult result = await ServeAndExpectExitAsync();

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("schema version 99", result.Stderr);
        Assert.Contains("Upgrade Latchkey", result.Stderr);
    }

    [Fact]
    public async Task Serve_MasterKeyFromEnvironmentOnFreshFolder_WritesNoKeyFileAndRestartsWithIt()
    {
        var environment = new Dictionary<string, string?> { ["LATCHKEY__MASTERKEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) };
        string kid;
        await using (LatchkeyServer first = await LatchkeyServer.StartAsync(_folder, environment))
            kid = AccessTokenKey(await JwksAsync(first)).GetProperty("kid").GetString()!;

        Assert.False(File.Exists(_folder.MasterKeyPath));
        await using LatchkeyServer second = await LatchkeyServer.StartAsync(_folder, environment);
        Assert.Equal(kid, AccessTokenKey(await JwksAsync(second)).GetProperty("kid").GetString());
    }

    [Fact]
    public async Task Serve_MasterKeySettingNot32Bytes_RefusedWithoutEchoingIt()
    {
        string sixteenBytes = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

        CliResult result = await ServeAndExpectExitAsync(new Dictionary<string, string?> { ["LATCHKEY__MASTERKEY"] = sixteenBytes });

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Latchkey:MasterKey is not 32 bytes of base64", result.Stderr);
        Assert.Contains("openssl rand -base64 32", result.Stderr);
        Assert.DoesNotContain(sixteenBytes, result.AllOutput);
        Assert.False(File.Exists(_folder.DatabasePath));
    }

    [Fact]
    public async Task Serve_MasterKeyFileCorrupted_RefusesToStartNamingTheFile()
    {
        await FirstStartAsync();
        await File.WriteAllTextAsync(_folder.MasterKeyPath, "not base64!\n", TestContext.Current.CancellationToken);

        CliResult result = await ServeAndExpectExitAsync();

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(_folder.MasterKeyPath, result.Stderr);
        Assert.Contains("not 32 bytes of base64", result.Stderr);
    }

    [Fact]
    public async Task Serve_PortAlreadyInUse_RefusesSayingToChooseAnotherPort()
    {
        await using LatchkeyServer running = await LatchkeyServer.StartAsync(_folder);
        using var other = new TempFolder();

        CliResult result = await LatchkeyCli.RunAsync(
            ["serve", "--urls", $"http://127.0.0.1:{running.Process.BaseAddress.Port}", "--data-dir", other.Data],
            workingDirectory: other.Root);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Choose another port with --urls", result.Stderr);
    }

    [Fact]
    public async Task Serve_SigTerm_ShutsDownOnItsOwn()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "SIGTERM is a Unix signal.");
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder);

        CliResult kill = await RunToolAsync("kill", "-TERM", server.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, kill.ExitCode);

        // Bounded poll: the process must exit by itself (dispose would kill it otherwise).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!server.Process.HasExited && DateTime.UtcNow < deadline)
            await Task.Delay(50, Ct);
        Assert.True(server.Process.HasExited, server.Process.Output);
        Assert.Contains("Application is shutting down", server.Process.Output);
        Assert.DoesNotContain("Unhandled exception", server.Process.Output);
    }

    [Fact]
    public async Task Serve_MetricsUrlsFromEnvironment_ServesMetricsOnThatPortOnly()
    {
        int publicPort = FreePort(), metricsPort = FreePort();
        while (metricsPort == publicPort)
            metricsPort = FreePort();
        var environment = new Dictionary<string, string?> { ["LATCHKEY__METRICS__URLS"] = $"http://127.0.0.1:{metricsPort}" };
        await using LatchkeyServer server = await LatchkeyServer.StartAsync(_folder, environment, urls: $"http://127.0.0.1:{publicPort}");
        // Both listeners are bound once the banner is out (bounded wait).
        using (var started = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (!server.Process.Output.Contains("Stop with Ctrl+C.", StringComparison.Ordinal))
                await Task.Delay(50, started.Token);
        }

        using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}") };
        using HttpResponseMessage scrape = await metrics.GetAsync("metrics", Ct);
        using HttpResponseMessage publicScrape = await server.Http.GetAsync("metrics", Ct);
        using HttpResponseMessage jwksOnMetrics = await metrics.GetAsync(".well-known/jwks.json", Ct);
        using HttpResponseMessage jwks = await server.Http.GetAsync(".well-known/jwks.json", Ct);

        Assert.Equal(publicPort, server.Process.BaseAddress.Port);
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        Assert.Contains("latchkey_signing_key_age_seconds", await scrape.Content.ReadAsStringAsync(Ct));
        Assert.Equal(HttpStatusCode.NotFound, publicScrape.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, jwksOnMetrics.StatusCode);
        Assert.Equal(HttpStatusCode.OK, jwks.StatusCode);
    }

    [Fact]
    public async Task Serve_MetricsUrlOnThePublicPort_RefusesToStartSayingToGiveItAPortOfItsOwn()
    {
        CliResult result = await LatchkeyCli.RunAsync(
            ["serve", "--urls", "http://0.0.0.0:5999", "--issuer", LatchkeyServer.Issuer, "--data-dir", _folder.Data],
            environment: new Dictionary<string, string?> { ["LATCHKEY__METRICS__URLS"] = "http://127.0.0.1:5999" }, workingDirectory: _folder.Root);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Latchkey:Metrics:Urls 'http://127.0.0.1:5999' is also a public listen address (http://0.0.0.0:5999)", result.Stderr);
        Assert.DoesNotContain("Now listening", result.Stdout);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<CliResult> RunToolAsync(string fileName, params string[] arguments)
    {
        var startInfo = new System.Diagnostics.ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
            startInfo.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(startInfo)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(Ct);
        Task<string> stderr = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync(timeout.Token);
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }
}
