using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Interop;

/// <summary>The algorithms the interop matrix runs. A new one (EdDSA) is one more entry in its list.</summary>
public static class InteropAlgorithms
{
    /// <summary>Signed with a key the server generates; verifiers need only the JWKS.</summary>
    public static readonly string[] Asymmetric =
    [
        JwtAlgorithms.ES256, JwtAlgorithms.ES384, JwtAlgorithms.ES512,
        JwtAlgorithms.RS256, JwtAlgorithms.RS384, JwtAlgorithms.RS512,
        JwtAlgorithms.PS256, JwtAlgorithms.PS384, JwtAlgorithms.PS512,
        JwtAlgorithms.EdDSA,
    ];

    /// <summary>Signed with the shared secret; verifiers hold the secret and the JWKS stays empty.</summary>
    public static readonly string[] Hmac = [JwtAlgorithms.HS256, JwtAlgorithms.HS384, JwtAlgorithms.HS512];

    public static readonly string[] All = [.. Asymmetric, .. Hmac];

    public static TheoryData<string> AllData => new(All);

    public static TheoryData<string> AsymmetricData => new(Asymmetric);

    /// <summary>Microsoft.IdentityModel (under JwtBearer) implements no EdDSA, so a stock ASP.NET Core API cannot verify it.</summary>
    public static TheoryData<string> JwtBearerData => new(Asymmetric.Where(a => a != JwtAlgorithms.EdDSA));

    public static TheoryData<string> HmacData => new(Hmac);

    /// <summary>python-jose 3.3.0 (Debian's) implements neither RSASSA-PSS nor EdDSA; see <see cref="InteropMatrixTests.PythonJose_PsAndEdDsaAlgorithms_AreNotImplemented"/>.</summary>
    public static TheoryData<string> PythonJoseData => new(All.Where(a => !a.StartsWith("PS", StringComparison.Ordinal) && a != JwtAlgorithms.EdDSA));

    public static bool IsHmac(string algorithm) => Hmac.Contains(algorithm);

    /// <summary>The same token with <c>preferred_username</c> changed and the signature kept: every verifier must refuse it.</summary>
    public static string TamperPayload(string token)
    {
        string[] parts = token.Split('.');
        var claims = JsonNode.Parse(Base64Url.DecodeFromChars(parts[1]))!.AsObject();
        claims["preferred_username"] = "mallory";
        claims["sub"] = "mallory";
        parts[1] = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(claims));
        return string.Join('.', parts);
    }
}

/// <summary>A Latchkey per algorithm, each started once (on first use) and shared by every verifier of that algorithm.</summary>
public sealed class InteropMatrixServers : IAsyncDisposable
{
    public const string Password = "correct horse battery staple";

    private readonly ConcurrentDictionary<string, Lazy<Task<IssuedToken>>> _servers = new();

    /// <summary>64 random bytes as base64url text (86 UTF-8 bytes): long enough for HS512.</summary>
    public string HmacSecret { get; } = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(64));

    public Task<IssuedToken> GetAsync(string algorithm) =>
        _servers.GetOrAdd(algorithm, a => new Lazy<Task<IssuedToken>>(() => StartAsync(a))).Value;

    private async Task<IssuedToken> StartAsync(string algorithm)
    {
        LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.SigningAlgorithm = algorithm;
            if (InteropAlgorithms.IsHmac(algorithm))
                o.HmacSecret = HmacSecret;
        });
        await server.AddUserAsync("alice", Password, "admin");
        string token = await server.GetAccessTokenAsync("alice", Password);
        Assert.Equal(algorithm, HttpAssert.Part(token, 0).GetProperty("alg").GetString());
        return new IssuedToken(server, algorithm, token, new Uri(server.BaseAddress, "/.well-known/jwks.json").ToString(),
            InteropAlgorithms.IsHmac(algorithm) ? HmacSecret : null);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (Lazy<Task<IssuedToken>> server in _servers.Values)
        {
            if (server.IsValueCreated && server.Value.IsCompletedSuccessfully)
                await server.Value.Result.Server.DisposeAsync();
        }
    }
}

/// <summary>A server-issued token (alice, role admin) and what a verifier needs: the JWKS URL, or the secret for HS*.</summary>
public sealed record IssuedToken(LatchkeyTestServer Server, string Algorithm, string Token, string JwksUrl, string? Secret)
{
    public string Tampered => InteropAlgorithms.TamperPayload(Token);

    /// <summary>What a verifier gets as key material: the JWKS URL, or the shared secret for HS*.</summary>
    public string KeySource => Secret ?? JwksUrl;
}

/// <summary>
/// The interop matrix (issue 4, point 4), server to verifier: for every algorithm, a token from a running Latchkey is
/// accepted by PyJWT (PyJWKClient, from the JWKS URL alone), python-jose (the JWKS fetched over HTTP, key picked by
/// kid) and node jose (createRemoteJWKSet), each checking issuer, audience and the one algorithm; HS* verifiers get
/// the shared secret instead. Each verifier also refuses the same token with altered claims, in the same process,
/// so a verifier that accepted everything would fail here.
/// </summary>
public sealed class InteropMatrixTests(InteropMatrixServers servers) : IClassFixture<InteropMatrixServers>
{
    private const string PyJwtVerify = """
        import json, sys, jwt
        alg, key_source, issuer, audience, *tokens = sys.argv[1:]
        client = None if alg.startswith("HS") else jwt.PyJWKClient(key_source)
        results = []
        for token in tokens:
            try:
                key = key_source.encode() if client is None else client.get_signing_key_from_jwt(token).key
                claims = jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=issuer,
                                    options={"require": ["exp", "iat", "sub", "jti"]})
                results.append({"ok": True, "claims": claims})
            except Exception as e:
                results.append({"ok": False, "error": type(e).__name__ + ": " + str(e)})
        print(json.dumps(results))
        """;

    private const string PythonJoseVerify = """
        import json, sys, urllib.request
        from jose import jwt
        alg, key_source, issuer, audience, *tokens = sys.argv[1:]
        keys = []
        if not alg.startswith("HS"):
            with urllib.request.urlopen(key_source, timeout=30) as response:
                keys = json.load(response)["keys"]
        results = []
        for token in tokens:
            try:
                if alg.startswith("HS"):
                    key = key_source
                else:
                    kid = jwt.get_unverified_header(token)["kid"]
                    key = next(k for k in keys if k["kid"] == kid)
                claims = jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=issuer)
                results.append({"ok": True, "claims": claims})
            except Exception as e:
                results.append({"ok": False, "error": type(e).__name__ + ": " + str(e)})
        print(json.dumps(results))
        """;

    [Theory]
    [MemberData(nameof(InteropAlgorithms.AllData), MemberType = typeof(InteropAlgorithms))]
    public async Task PyJwt_ServerToken_VerifiesAndTamperedIsRejected(string algorithm)
    {
        IssuedToken issued = await servers.GetAsync(algorithm);

        JsonArray results = await RunPythonAsync(PyJwtVerify, issued);

        AssertAccepted(issued, results[0]);
        AssertRejected(results[1], "InvalidSignatureError");
    }

    [Theory]
    [MemberData(nameof(InteropAlgorithms.PythonJoseData), MemberType = typeof(InteropAlgorithms))]
    public async Task PythonJose_ServerToken_VerifiesAndTamperedIsRejected(string algorithm)
    {
        IssuedToken issued = await servers.GetAsync(algorithm);

        JsonArray results = await RunPythonAsync(PythonJoseVerify, issued);

        AssertAccepted(issued, results[0]);
        AssertRejected(results[1], "JWTError: Signature verification failed");
    }

    /// <summary>
    /// Why PS* has no python-jose row: Debian's python-jose 3.3.0 does not implement RSASSA-PSS at all (not a Latchkey
    /// limitation). If a newer python-jose does, this fails: add PS* to <see cref="InteropAlgorithms.PythonJoseData"/>.
    /// </summary>
    [Fact]
    public async Task PythonJose_PsAndEdDsaAlgorithms_AreNotImplemented()
    {
        string output = await DebianPython.RunAsync("""
            from jose.constants import ALGORITHMS
            print(sorted(a for a in ["PS256", "PS384", "PS512", "EdDSA"] if a in ALGORITHMS.SUPPORTED))
            """);

        Assert.Equal("[]", output);
    }

    [Theory]
    [MemberData(nameof(InteropAlgorithms.AllData), MemberType = typeof(InteropAlgorithms))]
    public async Task NodeJose_ServerToken_VerifiesAndTamperedIsRejected(string algorithm)
    {
        IssuedToken issued = await servers.GetAsync(algorithm);
        var input = new JsonObject
        {
            ["alg"] = algorithm,
            ["issuer"] = LatchkeyTestServer.Issuer,
            ["audience"] = "api",
            ["tokens"] = new JsonArray(issued.Token, issued.Tampered),
        };
        if (issued.Secret is not null)
            input["secret"] = issued.Secret;
        else
            input["jwksUrl"] = issued.JwksUrl;

        JsonArray results = (await NodeJose.RunAsync("verify.mjs", input)).AsArray();

        AssertAccepted(issued, results[0]);
        Assert.Equal(algorithm, (string?)results[0]!["header"]!["alg"]);
        Assert.Equal("at+jwt", (string?)results[0]!["header"]!["typ"]);
        AssertRejected(results[1], "ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    }

    /// <summary>An HS* server publishes nothing of its access tokens' key, the shared secret: only its id tokens' RS256 key.</summary>
    [Theory]
    [MemberData(nameof(InteropAlgorithms.HmacData), MemberType = typeof(InteropAlgorithms))]
    public async Task Jwks_HmacServer_PublishesOnlyTheIdTokenKey(string algorithm)
    {
        IssuedToken issued = await servers.GetAsync(algorithm);

        string jwks = await issued.Server.Client.GetStringAsync("/.well-known/jwks.json");

        JsonElement key = Assert.Single(JsonDocument.Parse(jwks).RootElement.GetProperty("keys").EnumerateArray());
        Assert.Equal("RS256", key.GetProperty("alg").GetString());
        Assert.NotEqual(HttpAssert.Part(issued.Token, 0).GetProperty("kid").GetString(), key.GetProperty("kid").GetString());
    }

    private static async Task<JsonArray> RunPythonAsync(string script, IssuedToken issued)
    {
        string output = await DebianPython.RunAsync(script, issued.Algorithm, issued.KeySource, LatchkeyTestServer.Issuer, "api",
            issued.Token, issued.Tampered);
        return JsonNode.Parse(output)!.AsArray();
    }

    private static void AssertAccepted(IssuedToken issued, JsonNode? result)
    {
        Assert.True((bool)result!["ok"]!, $"{issued.Algorithm}: the genuine token was refused: {result["error"]}");
        JsonNode claims = result["claims"]!;
        Assert.Equal("alice", (string?)claims["preferred_username"]);
        Assert.Equal("admin", (string?)claims["role"]![0]);
        Assert.Equal("api", (string?)claims["aud"]);
        Assert.Equal(LatchkeyTestServer.Issuer, (string?)claims["iss"]);
    }

    private static void AssertRejected(JsonNode? result, string expectedError)
    {
        Assert.False((bool)result!["ok"]!, "the tampered token was accepted");
        Assert.Contains(expectedError, (string?)result["error"]);
    }
}

/// <summary>
/// The interop matrix in reverse: for every algorithm, a token made by PyJWT and one made by node jose, with a key we
/// generated (given to them as PKCS#8 PEM, or as the HMAC secret), verify in <see cref="Jwt.Decode(string, string, IEnumerable{string}, JwtDecodeOptions?)"/>
/// with the public key only; the same token with altered claims is refused.
/// </summary>
public sealed class ReverseInteropMatrixTests
{
    private const string PyJwtSign = """
        import json, sys, jwt
        alg, key, claims, kid = sys.argv[1:5]
        key = bytes.fromhex(key) if alg.startswith("HS") else key
        print(jwt.encode(json.loads(claims), key, algorithm=alg, headers={"kid": kid}))
        """;

    [Theory]
    [MemberData(nameof(InteropAlgorithms.AllData), MemberType = typeof(InteropAlgorithms))]
    public async Task Decode_PyJwtToken_VerifiesAndTamperedIsRejected(string algorithm)
    {
        using var key = GeneratedKey.Create(algorithm);
        JsonObject claims = Claims("https://pyjwt.example");

        string token = await DebianPython.RunAsync(PyJwtSign, algorithm, key.PrivateKeyText, claims.ToJsonString(), "pyjwt-" + algorithm);

        AssertDecodes(key, token, "https://pyjwt.example");
    }

    [Theory]
    [MemberData(nameof(InteropAlgorithms.AllData), MemberType = typeof(InteropAlgorithms))]
    public async Task Decode_NodeJoseToken_VerifiesAndTamperedIsRejected(string algorithm)
    {
        using var key = GeneratedKey.Create(algorithm);
        var input = new JsonObject { ["alg"] = algorithm, ["claims"] = Claims("https://node-jose.example"), ["kid"] = "node-" + algorithm };
        input[key.IsHmac ? "secretHex" : "privateKeyPem"] = key.PrivateKeyText;

        string token = (string)(await NodeJose.RunAsync("sign.mjs", input))["token"]!;

        AssertDecodes(key, token, "https://node-jose.example");
    }

    private static JsonObject Claims(string issuer)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return new JsonObject
        {
            ["iss"] = issuer,
            ["aud"] = "api",
            ["sub"] = "u-123",
            ["preferred_username"] = "alice",
            ["role"] = new JsonArray("admin"),
            ["iat"] = now,
            ["exp"] = now + 600,
            ["jti"] = Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture),
        };
    }

    private static void AssertDecodes(GeneratedKey key, string token, string issuer)
    {
        Assert.Equal(key.Algorithm, HttpAssert.Part(token, 0).GetProperty("alg").GetString());
        var options = new JwtDecodeOptions { Issuer = issuer, Audience = "api", RequiredClaims = ["exp", "iat", "sub", "jti"] };

        IReadOnlyDictionary<string, object?> claims = key.Decode(token, options);

        Assert.Equal("u-123", claims["sub"]);
        Assert.Equal("alice", claims["preferred_username"]);
        Assert.Equal(["admin"], Assert.IsType<object?[]>(claims["role"]));
        Assert.Throws<JwtInvalidSignatureException>(() => key.Decode(InteropAlgorithms.TamperPayload(token), options));
    }

    /// <summary>A key we generate for one algorithm: its private half as text for the outside signer, and verification with the public half.</summary>
    private sealed class GeneratedKey : IDisposable
    {
        private readonly object? _publicKey;
        private readonly byte[]? _secret;

        private GeneratedKey(string algorithm, object? publicKey, byte[]? secret, string privateKeyText)
        {
            Algorithm = algorithm;
            _publicKey = publicKey;
            _secret = secret;
            PrivateKeyText = privateKeyText;
        }

        public string Algorithm { get; }

        /// <summary>PKCS#8 PEM, or the HMAC secret in hex.</summary>
        public string PrivateKeyText { get; }

        public bool IsHmac => _secret is not null;

        public static GeneratedKey Create(string algorithm)
        {
            switch (algorithm[..2])
            {
                case "ES":
                    ECCurve curve = algorithm switch
                    {
                        JwtAlgorithms.ES256 => ECCurve.NamedCurves.nistP256,
                        JwtAlgorithms.ES384 => ECCurve.NamedCurves.nistP384,
                        _ => ECCurve.NamedCurves.nistP521,
                    };
                    using (var ec = ECDsa.Create(curve))
                        return new GeneratedKey(algorithm, ECDsa.Create(ec.ExportParameters(includePrivateParameters: false)), null, ec.ExportPkcs8PrivateKeyPem());
                case "RS" or "PS":
                    using (var rsa = RSA.Create(2048))
                        return new GeneratedKey(algorithm, RSA.Create(rsa.ExportParameters(includePrivateParameters: false)), null, rsa.ExportPkcs8PrivateKeyPem());
                case "Ed":
                    using (var ed = NSec.Cryptography.Key.Create(NSec.Cryptography.SignatureAlgorithm.Ed25519,
                        new NSec.Cryptography.KeyCreationParameters { ExportPolicy = NSec.Cryptography.KeyExportPolicies.AllowPlaintextExport }))
                    {
                        return new GeneratedKey(algorithm, ed.PublicKey, null,
                            System.Text.Encoding.ASCII.GetString(ed.Export(NSec.Cryptography.KeyBlobFormat.PkixPrivateKeyText)));
                    }

                case "HS":
                    // As many bytes as the hash: the minimum RFC 7518 §3.2 allows.
                    byte[] secret = RandomNumberGenerator.GetBytes(int.Parse(algorithm[2..], CultureInfo.InvariantCulture) / 8);
                    return new GeneratedKey(algorithm, null, secret, Convert.ToHexString(secret));
                default:
                    throw new ArgumentException($"No key generation for {algorithm} in the interop tests yet.", nameof(algorithm));
            }
        }

        public IReadOnlyDictionary<string, object?> Decode(string token, JwtDecodeOptions options) => _publicKey switch
        {
            ECDsa ec => Jwt.Decode(token, ec, [Algorithm], options),
            RSA rsa => Jwt.Decode(token, rsa, [Algorithm], options),
            NSec.Cryptography.PublicKey ed => Jwt.Decode(token, ed, [Algorithm], options),
            null => Jwt.Decode(token, _secret!, [Algorithm], options),
            _ => throw new InvalidOperationException($"No Jwt.Decode overload for {_publicKey.GetType().Name}."),
        };

        public void Dispose() => (_publicKey as IDisposable)?.Dispose();
    }
}
