using System.Net;
using System.Text.Json;
using Latchkey.Keys;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>RFC 8414 metadata and the JWKS: what an outside verifier needs, and nothing secret.</summary>
public sealed class DiscoveryAndJwksTests : IAsyncLifetime
{
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await LatchkeyTestServer.StartAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Theory]
    [InlineData("/.well-known/openid-configuration")]
    [InlineData("/.well-known/oauth-authorization-server")]
    public async Task Discovery_Document_NamesIssuerAndEndpoints(string path)
    {
        using HttpResponseMessage response = await _server.Client.GetAsync(path);

        JsonElement doc = await HttpAssert.OkJsonAsync(response);
        Assert.Equal(LatchkeyTestServer.Issuer, doc.GetProperty("issuer").GetString());
        Assert.Equal(LatchkeyTestServer.Issuer + "/token", doc.GetProperty("token_endpoint").GetString());
        Assert.Equal(LatchkeyTestServer.Issuer + "/.well-known/jwks.json", doc.GetProperty("jwks_uri").GetString());
        Assert.Equal(LatchkeyTestServer.Issuer + "/userinfo", doc.GetProperty("userinfo_endpoint").GetString());
        Assert.Equal(LatchkeyTestServer.Issuer + "/revoke", doc.GetProperty("revocation_endpoint").GetString());
        Assert.Equal(LatchkeyTestServer.Issuer + "/introspect", doc.GetProperty("introspection_endpoint").GetString());
        Assert.Equal(["authorization_code", "password", "client_credentials", "refresh_token"],
            doc.GetProperty("grant_types_supported").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Discovery_IsACompleteOpenIdProviderMetadataDocument()
    {
        JsonElement doc = await HttpAssert.OkJsonAsync(await _server.Client.GetAsync("/.well-known/openid-configuration"));

        // OpenID Connect Discovery 1.0 §3: the REQUIRED members, and what a code-flow RP looks for.
        Assert.Equal(LatchkeyTestServer.Issuer + "/authorize", doc.GetProperty("authorization_endpoint").GetString());
        Assert.Equal(["code"], Strings(doc, "response_types_supported"));
        Assert.Equal(["public"], Strings(doc, "subject_types_supported"));
        // Id tokens are RS256 unless a client registered the access tokens' algorithm (ES256 here): Core §15.1 asks every
        // provider for RS256.
        Assert.Equal(["RS256", "ES256"], Strings(doc, "id_token_signing_alg_values_supported"));
        Assert.Equal(["S256"], Strings(doc, "code_challenge_methods_supported"));
        Assert.Equal(["query", "form_post"], Strings(doc, "response_modes_supported"));
        Assert.Contains("openid", Strings(doc, "scopes_supported"));
        Assert.Contains("none", Strings(doc, "token_endpoint_auth_methods_supported"));
        Assert.Contains("nonce", Strings(doc, "claims_supported"));
        Assert.True(doc.GetProperty("authorization_response_iss_parameter_supported").GetBoolean());
        Assert.False(doc.GetProperty("request_uri_parameter_supported").GetBoolean());
    }

    private static string[] Strings(JsonElement doc, string name) => doc.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToArray();

    [Fact]
    public async Task Jwks_DefaultInstall_PublishesAPublicEs256KeyForAccessTokens_AndAnRs256KeyForIdTokens()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/.well-known/jwks.json");

        JsonElement jwks = await HttpAssert.OkJsonAsync(response);
        Assert.Equal(2, jwks.GetProperty("keys").GetArrayLength());
        JsonElement key = jwks.GetProperty("keys")[0];
        Assert.Equal(["kty", "crv", "x", "y", "kid", "use", "alg"], key.EnumerateObject().Select(p => p.Name));
        Assert.Equal("EC", key.GetProperty("kty").GetString());
        Assert.Equal("P-256", key.GetProperty("crv").GetString());
        Assert.Equal("ES256", key.GetProperty("alg").GetString());
        JsonElement idKey = jwks.GetProperty("keys")[1];
        Assert.Equal(["kty", "n", "e", "kid", "use", "alg"], idKey.EnumerateObject().Select(p => p.Name));
        Assert.Equal("RS256", idKey.GetProperty("alg").GetString());
        Assert.Equal(2048, System.Buffers.Text.Base64Url.DecodeFromChars(idKey.GetProperty("n").GetString()).Length * 8);
        Assert.True(response.Headers.CacheControl?.MaxAge > TimeSpan.Zero);
    }

    [Fact]
    public async Task Jwks_Kid_IsTheRfc7638ThumbprintAndSignsTokens()
    {
        await _server.AddUserAsync("alice", "correct horse battery");
        string token = await _server.GetAccessTokenAsync("alice", "correct horse battery");
        using HttpResponseMessage response = await _server.Client.GetAsync("/.well-known/jwks.json");
        JsonElement key = Assert.Single((await HttpAssert.OkJsonAsync(response)).GetProperty("keys").EnumerateArray(), k => k.GetProperty("alg").GetString() == "ES256");

        // Recompute the thumbprint with Microsoft.IdentityModel as an independent implementation.
        var jwk = new Microsoft.IdentityModel.Tokens.JsonWebKey(key.GetRawText());
        string thumbprint = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(jwk.ComputeJwkThumbprint());
        Assert.Equal(thumbprint, key.GetProperty("kid").GetString());
        Assert.Equal(thumbprint, HttpAssert.Part(token, 0).GetProperty("kid").GetString());

        var verifier = JsonWebKeys.FromPublicJwk(key.GetRawText())!;
        IReadOnlyDictionary<string, object?> claims = Jwt.Decode(token, ((Latchkey.Jose.EcdsaJwsKey)verifier).Key, ["ES256"],
            new JwtDecodeOptions { Audience = "api", Issuer = LatchkeyTestServer.Issuer, TimeProvider = _server.Time });
        Assert.Equal("alice", claims["preferred_username"]);
    }

    [Theory]
    [InlineData("ES384", "EC")]
    [InlineData("ES512", "EC")]
    [InlineData("RS256", "RSA")]
    [InlineData("PS256", "RSA")]
    public async Task AsymmetricDeployment_GeneratesAKeyWhoseJwksVerifiesItsTokens(string algorithm, string keyType)
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.SigningAlgorithm = algorithm);
        await server.AddUserAsync("alice", "correct horse battery");
        string token = await server.GetAccessTokenAsync("alice", "correct horse battery");
        using HttpResponseMessage response = await server.Client.GetAsync("/.well-known/jwks.json");
        JsonElement keys = (await HttpAssert.OkJsonAsync(response)).GetProperty("keys");
        // The access tokens' key, and the id tokens' RS256 key beside it.
        Assert.Equal(2, keys.GetArrayLength());
        Assert.Single(keys.EnumerateArray(), k => k.GetProperty("alg").GetString() == "RS256" && k.GetProperty("kid").GetString() != Kid(token));
        JsonElement key = Assert.Single(keys.EnumerateArray(), k => k.GetProperty("kid").GetString() == Kid(token));

        Assert.Equal(keyType, key.GetProperty("kty").GetString());
        Assert.Equal(algorithm, key.GetProperty("alg").GetString());
        Assert.False(key.TryGetProperty("d", out _), "the JWKS must never hold a private part");
        if (keyType == "EC")
        {
            // RFC 7518 §6.2.1.2: coordinates at the curve's full length, leading zeros kept (P-521: 66 bytes).
            int expected = algorithm switch { "ES384" => 48, "ES512" => 66, _ => 32 };
            Assert.Equal(expected, System.Buffers.Text.Base64Url.DecodeFromChars(key.GetProperty("x").GetString()).Length);
            Assert.Equal(expected, System.Buffers.Text.Base64Url.DecodeFromChars(key.GetProperty("y").GetString()).Length);
        }
        Assert.Equal(algorithm, HttpAssert.Part(token, 0).GetProperty("alg").GetString());
        // Verified by Microsoft.IdentityModel from the published JWK alone: an independent implementation.
        var handler = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler();
        var result = await handler.ValidateTokenAsync(token, new Microsoft.IdentityModel.Tokens.TokenValidationParameters
        {
            IssuerSigningKey = new Microsoft.IdentityModel.Tokens.JsonWebKey(key.GetRawText()),
            ValidIssuer = LatchkeyTestServer.Issuer,
            ValidAudience = "api",
            ValidTypes = ["at+jwt"],
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        using HttpResponseMessage me = await server.GetWithBearerAsync("/me", token);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task EdDsaDeployment_PublishesAnOkpKeyWhoseJwkVerifiesItsTokens()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.SigningAlgorithm = "EdDSA");
        await server.AddUserAsync("alice", "correct horse battery");
        string token = await server.GetAccessTokenAsync("alice", "correct horse battery");
        using HttpResponseMessage response = await server.Client.GetAsync("/.well-known/jwks.json");
        JsonElement key = Assert.Single((await HttpAssert.OkJsonAsync(response)).GetProperty("keys").EnumerateArray(), k => k.GetProperty("kid").GetString() == Kid(token));

        Assert.Equal(["kty", "crv", "x", "kid", "use", "alg"], key.EnumerateObject().Select(p => p.Name));
        Assert.Equal("OKP", key.GetProperty("kty").GetString());
        Assert.Equal("Ed25519", key.GetProperty("crv").GetString());
        Assert.Equal("EdDSA", HttpAssert.Part(token, 0).GetProperty("alg").GetString());
        var verifier = (Latchkey.Jose.EdDsaJwsKey)JsonWebKeys.FromPublicJwk(key.GetRawText())!;
        Assert.Equal("alice", Jwt.Decode(token, verifier.PublicKey, ["EdDSA"],
            new JwtDecodeOptions { Audience = "api", TimeProvider = server.Time })["preferred_username"]);
        using HttpResponseMessage me = await server.GetWithBearerAsync("/me", token);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task Jwks_HmacDeployment_PublishesOnlyItsIdTokenKey_NeverTheSecret()
    {
        await using LatchkeyTestServer server = await StartHs256Async("0123456789abcdef0123456789abcdef");
        await server.AddUserAsync("alice", "correct horse battery");
        string token = await server.GetAccessTokenAsync("alice", "correct horse battery");

        using HttpResponseMessage response = await server.Client.GetAsync("/.well-known/jwks.json");

        JsonElement key = Assert.Single((await HttpAssert.OkJsonAsync(response)).GetProperty("keys").EnumerateArray());
        Assert.Equal(("RSA", "RS256"), (key.GetProperty("kty").GetString(), key.GetProperty("alg").GetString()));
        Assert.NotEqual(Kid(token), key.GetProperty("kid").GetString());
        Assert.DoesNotContain("0123456789abcdef", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SwitchToHmac_TheOldAccessTokenKeysNeitherPublishedNorAccepted_TheIdTokenKeyStays()
    {
        await _server.AddUserAsync("alice", "correct horse battery");
        string es256Token = await _server.GetAccessTokenAsync("alice", "correct horse battery");
        string idKid = _server.Services.GetRequiredService<SigningKeyRing>().IdTokenSigner.KeyId;

        await using LatchkeyTestServer hmac = await StartHs256Async("0123456789abcdef0123456789abcdef", _server);

        using HttpResponseMessage response = await hmac.Client.GetAsync("/.well-known/jwks.json");
        JsonElement key = Assert.Single((await HttpAssert.OkJsonAsync(response)).GetProperty("keys").EnumerateArray());
        Assert.Equal(idKid, key.GetProperty("kid").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await hmac.GetWithBearerAsync("/me", es256Token)).StatusCode);
        Assert.Equal("HS256", HttpAssert.Part(await hmac.GetAccessTokenAsync("alice", "correct horse battery"), 0).GetProperty("alg").GetString());
    }

    [Fact]
    public async Task HmacDeployment_RevokingAnUnknownKid_SaysSo_RevokingTheSecretsKid_SaysToReplaceIt()
    {
        const string secret = "0123456789abcdef0123456789abcdef";
        await using LatchkeyTestServer hmac = await StartHs256Async(secret);
        var rotation = hmac.Services.GetRequiredService<KeyRotation>();

        (KeyRevocation? unknown, string? unknownError) = await rotation.RevokeAsync("no-such-kid", "test", CancellationToken.None);
        (KeyRevocation? configured, string? configuredError) = await rotation.RevokeAsync(hmac.Services.GetRequiredService<SigningKeyRing>().Current.KeyId, "test", CancellationToken.None);

        Assert.Null(unknown);
        Assert.Contains("No signing key", unknownError);
        Assert.Null(configured);
        Assert.Contains("Latchkey:HmacSecret", configuredError);
    }

    [Fact]
    public async Task HmacDeployment_AnIdTokenHintSignedWithTheSecret_IsNoHint()
    {
        const string secret = "0123456789abcdef0123456789abcdef";
        await using LatchkeyTestServer hmac = await StartHs256Async(secret);
        var hints = hmac.Services.GetRequiredService<Latchkey.Tokens.IdTokenHints>();
        string hmacKid = hmac.Services.GetRequiredService<SigningKeyRing>().Current.KeyId;
        long now = hmac.Time.GetUtcNow().ToUnixTimeSeconds();
        var claims = new Dictionary<string, object> { ["iss"] = LatchkeyTestServer.Issuer, ["sub"] = "someone", ["aud"] = "webapp", ["iat"] = now, ["exp"] = now + 300 };

        // Every resource server of an HS256 deployment holds the secret: what it signs must not pass for an id token.
        string forged = Jwt.Encode(claims, secret, "HS256", new Dictionary<string, object?> { ["typ"] = "JWT", ["kid"] = hmacKid });

        Assert.Null(hints.Read(forged));
    }

    /// <summary>A server signing access tokens with HS256 and <paramref name="secret"/>; on <paramref name="sameDataAs"/>'s data and clock when given.</summary>
    private static Task<LatchkeyTestServer> StartHs256Async(string secret, LatchkeyTestServer? sameDataAs = null) => LatchkeyTestServer.StartAsync(o =>
    {
        o.SigningAlgorithm = "HS256";
        o.HmacSecret = secret;
    }, dataDirectory: sameDataAs?.DataDirectory, time: sameDataAs?.Time);

    private static string Kid(string token) => HttpAssert.Part(token, 0).GetProperty("kid").GetString()!;

    [Fact]
    public async Task Hs256Deployment_IssuesTokensThatVerifyWithTheSecret()
    {
        const string secret = "0123456789abcdef0123456789abcdef";
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.SigningAlgorithm = "HS256";
            o.HmacSecret = secret;
        });
        await server.AddUserAsync("alice", "correct horse battery");

        string token = await server.GetAccessTokenAsync("alice", "correct horse battery");

        Assert.Equal("HS256", HttpAssert.Part(token, 0).GetProperty("alg").GetString());
        IReadOnlyDictionary<string, object?> claims = Jwt.Decode(token, secret, ["HS256"],
            new JwtDecodeOptions { Audience = "api", TimeProvider = server.Time });
        Assert.Equal("alice", claims["preferred_username"]);
        using HttpResponseMessage me = await server.GetWithBearerAsync("/me", token);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task UnknownPath_IsNotFoundNotA500()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/nope");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
