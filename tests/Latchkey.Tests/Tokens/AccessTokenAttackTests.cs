using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Latchkey.Jose;
using Latchkey.Keys;
using Latchkey.Tests.Support;
using Latchkey.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Latchkey.Tests.Tokens;

/// <summary>
/// Issue 4 §3: known JWT attacks presented to GET /me of a running server. Each token is made by hand from a genuine
/// token's header and claims, changing only the attacked property, and signed with the server's own private key
/// wherever a valid signature matters, so that the check under test is the only thing standing in the way. Each must
/// end in a plain 401 (nothing in the body says why) and a log line naming the specific reason.
/// </summary>
public sealed class AccessTokenAttackTests(AccessTokenAttackTests.ServerFixture fixture) : IClassFixture<AccessTokenAttackTests.ServerFixture>
{
    private const string Password = "correct horse battery";
    private const string GenericDescription = "The access token is invalid, expired or revoked.";

    // Writes "'" and non-ASCII as they are, as an attacker's tool would (the default encoder escapes them).
    private static readonly JsonSerializerOptions RawJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private LatchkeyTestServer Server => fixture.Server;

    /// <summary>One server for the class: the tests run one at a time, and each reads only the log lines its own request wrote.</summary>
    public sealed class ServerFixture : IAsyncLifetime
    {
        public LatchkeyTestServer Server { get; private set; } = null!;

        public string Token { get; private set; } = null!;

        /// <summary>The server's private signing key, taken in-process: the worst case, a token that verifies.</summary>
        public ECDsa RealKey { get; private set; } = null!;

        public async ValueTask InitializeAsync()
        {
            Server = await LatchkeyTestServer.StartAsync();
            await Server.AddUserAsync("alice", Password, "admin");
            Token = await Server.GetAccessTokenAsync("alice", Password);
            RealKey = PrivateKeyOf(Server);
        }

        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }

    // ---- the crafting is sound: a re-made genuine token is accepted ----

    [Fact]
    public async Task Me_GenuineTokenRemadeByHand_IsAccepted()
    {
        string token = SignedByServer(Json(Header()), Json(Claims()));

        using HttpResponseMessage response = await Server.GetWithBearerAsync("/me", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    // ---- alg ----

    [Theory]
    [InlineData("none", false)]
    [InlineData("None", false)]
    [InlineData("NONE", false)]
    [InlineData("nOnE", false)]
    [InlineData("none", true)]
    [InlineData("None", true)]
    [InlineData("NONE", true)]
    [InlineData("nOnE", true)]
    public async Task Me_AlgNoneInAnyCase_RefusedAlgorithmNotAllowed(string alg, bool withSignature)
    {
        JsonObject header = Header();
        header["alg"] = alg;
        string token = withSignature
            ? SignedByServer(Json(header), Json(Claims()))
            : $"{B64(Json(header))}.{B64(Json(Claims()))}.";

        await AssertRefusedAsync(token, JwtFailure.AlgorithmNotAllowed, $"The algorithm '{alg}' is not allowed.");
    }

    [Theory]
    [InlineData("pem")]
    [InlineData("jwk")]
    [InlineData("der")]
    public async Task Me_Hs256KeyedWithOurPublicKey_RefusedAlgorithmNotAllowed(string form)
    {
        // What an attacker has: the public key, from the JWKS.
        using HttpResponseMessage jwksResponse = await Server.Client.GetAsync("/.well-known/jwks.json");
        JsonElement jwk = (await HttpAssert.OkJsonAsync(jwksResponse)).GetProperty("keys")[0];
        using var publicKey = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url.DecodeFromChars(jwk.GetProperty("x").GetString()), Y = Base64Url.DecodeFromChars(jwk.GetProperty("y").GetString()) },
        });
        byte[] secret = form switch
        {
            "pem" => Encoding.ASCII.GetBytes(publicKey.ExportSubjectPublicKeyInfoPem() + "\n"),
            "jwk" => Encoding.UTF8.GetBytes(jwk.GetRawText()),
            _ => publicKey.ExportSubjectPublicKeyInfo(),
        };
        JsonObject header = Header();
        header["alg"] = "HS256";
        string input = $"{B64(Json(header))}.{B64(Json(Claims()))}";
        string token = $"{input}.{Base64Url.EncodeToString(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)))}";

        await AssertRefusedAsync(token, JwtFailure.AlgorithmNotAllowed, $"The token's alg 'HS256' is not the algorithm of key {Kid} (ES256).");
    }

    // ---- kid ----

    [Fact]
    public async Task Me_UnknownKidSignedByThatKey_RefusedUnknownKey()
    {
        using var attackerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        JsonWebKeys.PublicJwk(attackerKey, "ES256", out string attackerKid);
        JsonObject header = Header();
        header["kid"] = attackerKid;
        string token = Signed(Json(header), Json(Claims()), attackerKey);

        await AssertRefusedAsync(token, JwtFailure.UnknownKey, "No key is known for this token's 'kid'.");
    }

    [Theory]
    [InlineData("path")]
    [InlineData("sql")]
    [InlineData("nul")]
    [InlineData("empty")]
    [InlineData("129 characters")]
    public async Task Me_KidNotOfOurShape_RefusedUnknownKeyBeforeLookup(string kind)
    {
        JsonObject header = Header();
        header["kid"] = kind switch
        {
            "path" => "../../etc/passwd",
            "sql" => "' OR 1=1 --",
            "nul" => Kid + "\u0000",
            "empty" => "",
            _ => new string('A', AccessTokenValidator.MaxKeyIdLength + 1),
        };
        string token = SignedByServer(Json(header), Json(Claims()));

        await AssertRefusedAsync(token, JwtFailure.UnknownKey,
            "The token's kid is missing or not a key id Latchkey issues (1 to 128 base64url characters).");
    }

    // ---- keys that come with the token (RFC 8725 §3.10) ----

    [Theory]
    [InlineData("jwk")]
    [InlineData("jku")]
    [InlineData("x5u")]
    [InlineData("x5c")]
    public async Task Me_EmbeddedKeyHeaderOnAnOtherwiseValidToken_RefusedUnsupportedHeader(string name)
    {
        JsonObject header = Header();
        header[name] = name switch
        {
            // Our own public key: harmless-looking, and still never trusted.
            "jwk" => JsonNode.Parse(Server.Services.GetRequiredService<SigningKeyRing>().Current.PublicJwk!),
            "jku" => "https://attacker.example/jwks.json",
            "x5u" => "https://attacker.example/cert.pem",
            _ => new JsonArray(Convert.ToBase64String(SelfSignedCertificate())),
        };
        string token = SignedByServer(Json(header), Json(Claims()));

        await AssertRefusedAsync(token, JwtFailure.UnsupportedHeader, $"The '{name}' header is not trusted.");
    }

    [Fact]
    public async Task Me_EmbeddedJwkOfTheAttackersSigningKey_RefusedUnsupportedHeader()
    {
        using var attackerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string attackerJwk = JsonWebKeys.PublicJwk(attackerKey, "ES256", out string attackerKid);
        JsonObject header = Header();
        header["kid"] = attackerKid;
        header["jwk"] = JsonNode.Parse(attackerJwk);
        string token = Signed(Json(header), Json(Claims()), attackerKey);

        await AssertRefusedAsync(token, JwtFailure.UnsupportedHeader, "The 'jwk' header is not trusted.");
    }

    // ---- headers that change the rules ----

    [Fact]
    public async Task Me_CritNamingAnUnknownExtension_RefusedUnsupportedHeader()
    {
        JsonObject header = Header();
        header["urn:example:must-understand"] = true;
        header["crit"] = new JsonArray("urn:example:must-understand");
        string token = SignedByServer(Json(header), Json(Claims()));

        await AssertRefusedAsync(token, JwtFailure.UnsupportedHeader, "The token has a 'crit' header naming extensions that are not supported.");
    }

    [Fact]
    public async Task Me_B64False_RefusedUnsupportedHeader()
    {
        // RFC 7797 §6 wants b64 listed in crit; b64 comes first, so the log names it rather than crit.
        JsonObject header = Header();
        header["b64"] = false;
        header["crit"] = new JsonArray("b64");
        string token = SignedByServer(Json(header), Json(Claims()));

        await AssertRefusedAsync(token, JwtFailure.UnsupportedHeader, "The 'b64' header is not supported.");
    }

    // ---- JSON that two parsers could read two ways ----

    [Theory]
    [InlineData("header")]
    [InlineData("payload")]
    public async Task Me_DuplicateMemberName_RefusedMalformed(string part)
    {
        // A first-wins parser reads alg none and sub mallory; a last-wins parser the genuine values. Without the
        // duplicate check this token verifies, since the genuine values come last.
        string header = Json(Header());
        string claims = Json(Claims());
        if (part == "header")
            header = "{\"alg\":\"none\"," + header[1..];
        else
            claims = "{\"sub\":\"mallory\"," + claims[1..];
        string token = SignedByServer(header, claims);

        await AssertRefusedAsync(token, JwtFailure.Malformed, $"The token's {part} is not a single JSON object (or it repeats a member name).");
    }

    [Theory]
    [InlineData("header", "not JSON")]
    [InlineData("header", "an array")]
    [InlineData("header", "trailing data")]
    [InlineData("payload", "not JSON")]
    [InlineData("payload", "an array")]
    [InlineData("payload", "trailing data")]
    public async Task Me_PartNotOneJsonObject_RefusedMalformed(string part, string kind)
    {
        string original = part == "header" ? Json(Header()) : Json(Claims());
        string crafted = kind switch
        {
            "not JSON" => original.Replace("\"", ""),
            "an array" => "[" + original + "]",
            _ => original + "{}",
        };
        string token = part == "header" ? SignedByServer(crafted, Json(Claims())) : SignedByServer(Json(Header()), crafted);

        await AssertRefusedAsync(token, JwtFailure.Malformed, kind == "an array"
            ? $"The token's {part} is not a JSON object."
            : $"The token's {part} is not a single JSON object (or it repeats a member name).");
    }

    // ---- size ----

    [Fact]
    public async Task Me_ValidlySignedTokenOver8KiB_RefusedTooLarge()
    {
        string token = SignedTokenOfLength(JwsReader.DefaultMaxLength + 1);
        Assert.Equal(8193, token.Length);

        await AssertRefusedAsync(token, JwtFailure.TooLarge, "The token is longer than 8192 characters.");
    }

    [Fact]
    public async Task Me_ValidlySignedTokenOfExactly8KiB_IsAccepted()
    {
        string token = SignedTokenOfLength(JwsReader.DefaultMaxLength);
        Assert.Equal(8192, token.Length);

        using HttpResponseMessage response = await Server.GetWithBearerAsync("/me", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    // ---- time claims ----

    [Theory]
    [InlineData("exp")]
    [InlineData("nbf")]
    [InlineData("iat")]
    public async Task Me_TimeClaimAsString_RefusedMalformed(string claim)
    {
        JsonObject claims = Claims();
        // The same instant, as text: "1700000000" rather than 1700000000.
        claims[claim] = (claim == "exp" ? claims["exp"] : claims["iat"])!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture);
        string token = SignedByServer(Json(Header()), Json(claims));

        await AssertRefusedAsync(token, JwtFailure.Malformed, $"The '{claim}' claim must be a NumericDate (a JSON number).");
    }

    [Fact]
    public async Task Me_ValidlySignedWithoutExp_RefusedMissingClaim()
    {
        JsonObject claims = Claims();
        claims.Remove("exp");
        string token = SignedByServer(Json(Header()), Json(claims));

        await AssertRefusedAsync(token, JwtFailure.MissingClaim, "The token has no 'exp' claim.");
    }

    // ---- another kind of token (RFC 8725 §3.11) ----

    [Theory]
    [InlineData("JWT")]
    [InlineData(null)]
    public async Task Me_ValidlySignedTokenOfAnotherTyp_RefusedInvalidType(string? typ)
    {
        JsonObject header = Header();
        if (typ is null)
            header.Remove("typ");
        else
            header["typ"] = typ;
        string token = SignedByServer(Json(header), Json(Claims()));

        await AssertRefusedAsync(token, JwtFailure.InvalidType, $"The token's typ is '{typ ?? "(none)"}', not 'at+jwt'.");
    }

    // ---- another issuer's key ----

    [Fact]
    public async Task Me_AnotherIssuersTokenUnderItsOwnKid_RefusedUnknownKey()
    {
        await using LatchkeyTestServer other = await LatchkeyTestServer.StartAsync(o => o.Issuer = "http://other-issuer.test");
        await other.AddUserAsync("alice", Password, "admin");
        string foreign = await other.GetAccessTokenAsync("alice", Password);
        using (HttpResponseMessage acceptedThere = await other.GetWithBearerAsync("/me", foreign))
            Assert.Equal(HttpStatusCode.OK, acceptedThere.StatusCode);
        Assert.NotEqual(Kid, HttpAssert.Part(foreign, 0).GetProperty("kid").GetString());

        await AssertRefusedAsync(foreign, JwtFailure.UnknownKey, "No key is known for this token's 'kid'.");
    }

    [Fact]
    public async Task Me_AnotherIssuersTokenUnderOurKid_RefusedInvalidSignature()
    {
        await using LatchkeyTestServer other = await LatchkeyTestServer.StartAsync(o => o.Issuer = "http://other-issuer.test");
        await other.AddUserAsync("alice", Password, "admin");
        string foreign = await other.GetAccessTokenAsync("alice", Password);
        JsonObject header = JsonNode.Parse(HttpAssert.Part(foreign, 0).GetRawText())!.AsObject();
        header["kid"] = Kid;
        string token = Signed(Json(header), HttpAssert.Part(foreign, 1).GetRawText(), PrivateKeyOf(other));

        await AssertRefusedAsync(token, JwtFailure.InvalidSignature, "The token's signature is invalid.");
    }

    // ---- helpers ----

    /// <summary>
    /// Presents <paramref name="token"/> to GET /me and asserts the whole refusal: 401, the RFC 6750 challenge with
    /// only the generic description, a problem body that says nothing more, and exactly one log line with the reason.
    /// </summary>
    private async Task AssertRefusedAsync(string token, JwtFailure failure, string reason)
    {
        int logMark = Server.Logs.Count;

        using HttpResponseMessage response = await Server.GetWithBearerAsync("/me", token);

        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"expected 401, got {(int)response.StatusCode}: {body}");
        Assert.Equal(
            $"Bearer realm=\"latchkey\", error=\"invalid_token\", error_description=\"{GenericDescription}\"",
            Assert.Single(response.Headers.NonValidated["WWW-Authenticate"]));
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        JsonElement problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal(["detail", "status", "title"], problem.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(401, problem.GetProperty("status").GetInt32());
        Assert.Equal("Unauthorized", problem.GetProperty("title").GetString());
        Assert.Equal(GenericDescription, problem.GetProperty("detail").GetString());

        string[] lines = Server.Logs.Skip(logMark).ToArray();
        string refusal = Assert.Single(lines, line => line.Contains("[3001]", StringComparison.Ordinal));
        Assert.Contains($"Bearer token refused: {failure}: {reason}", refusal, StringComparison.Ordinal);
        // Never the token itself (CONVENTIONS habit 10).
        string signature = token[(token.LastIndexOf('.') + 1)..];
        if (signature.Length > 0)
            Assert.DoesNotContain(lines, line => line.Contains(signature, StringComparison.Ordinal));
    }

    private string Kid => HttpAssert.Part(fixture.Token, 0).GetProperty("kid").GetString()!;

    /// <summary>The genuine token's header, to change one member of.</summary>
    private JsonObject Header() => JsonNode.Parse(HttpAssert.Part(fixture.Token, 0).GetRawText())!.AsObject();

    /// <summary>The genuine token's claims, to change one of.</summary>
    private JsonObject Claims() => JsonNode.Parse(HttpAssert.Part(fixture.Token, 1).GetRawText())!.AsObject();

    private string SignedByServer(string headerJson, string claimsJson) => Signed(headerJson, claimsJson, fixture.RealKey);

    /// <summary>A valid token with a padding claim making it exactly <paramref name="length"/> characters long.</summary>
    private string SignedTokenOfLength(int length)
    {
        const int SignatureLength = 86; // ES256: 64 bytes of R || S
        // Base64url lengths are never 1 more than a multiple of 4, so white space in the header moves the total when needed.
        for (int spaces = 0; spaces < 3; spaces++)
        {
            string header = "{" + new string(' ', spaces) + Json(Header())[1..];
            for (int pad = 0; pad < length; pad++)
            {
                JsonObject claims = Claims();
                claims["pad"] = new string('x', pad);
                int total = B64(header).Length + 1 + B64(Json(claims)).Length + 1 + SignatureLength;
                if (total == length)
                    return SignedByServer(header, Json(claims));
                if (total > length)
                    break;
            }
        }

        throw new InvalidOperationException($"No padding makes a token of {length} characters.");
    }

    private static string Signed(string headerJson, string claimsJson, ECDsa key)
    {
        string input = $"{B64(headerJson)}.{B64(claimsJson)}";
        byte[] signature = key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return $"{input}.{Base64Url.EncodeToString(signature)}";
    }

    private static ECDsa PrivateKeyOf(LatchkeyTestServer server) =>
        ((EcdsaJwsKey)server.Services.GetRequiredService<SigningKeyRing>().Current.Key).Key;

    private static byte[] SelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=attacker.example", key, HashAlgorithmName.SHA256);
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return certificate.RawData;
    }

    private static string Json(JsonNode node) => node.ToJsonString(RawJson);

    private static string B64(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
}

/// <summary>Values echoed from a token into a log message cannot forge lines or flood the log.</summary>
public sealed class JwtExceptionPrintableTests
{
    [Fact]
    public void Printable_ControlCharactersAndLength_AreNeutralised()
    {
        string forged = "HS256\ninfo: Latchkey.Grants.PasswordGrant[1002] Issued access token" + new string('x', 8000);

        string shown = JwtException.Printable(forged);

        Assert.DoesNotContain('\n', shown);
        Assert.True(shown.Length <= 41);
        Assert.StartsWith("HS256?info", shown);
    }
}
