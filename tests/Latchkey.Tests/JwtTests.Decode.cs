using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Xunit;

namespace Latchkey.Tests;

public sealed partial class JwtTests
{
    private static readonly byte[] Secret32Bytes = Encoding.UTF8.GetBytes(Secret32);

    // The fake clock's "now" in every time test: 2030-01-01T00:00:00Z.
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const long NowSeconds = 1893456000;

    private static JwtDecodeOptions At(DateTimeOffset now, TimeSpan? leeway = null) =>
        leeway is null
            ? new JwtDecodeOptions { TimeProvider = new FakeTimeProvider(now) }
            : new JwtDecodeOptions { TimeProvider = new FakeTimeProvider(now), Leeway = leeway.Value };

    [Fact]
    public void Decode_SeedTokenWithShortKeyOptIn_ReturnsSeedClaims()
    {
        var claims = Jwt.Decode(SeedToken, SeedSecret, ["HS256"], new JwtDecodeOptions { AllowShortHmacKey = true });

        Assert.Equal(new Dictionary<string, object?> { ["sub"] = "user123", ["role"] = "admin" }, claims);
    }

    [Fact]
    public void Decode_SeedTokenWithoutShortKeyOptIn_ThrowsJwtKeyException()
    {
        var e = Assert.Throws<JwtKeyException>(() => Jwt.Decode(SeedToken, SeedSecret, ["HS256"]));

        Assert.Contains("RFC 7518 §3.2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_RoundTrip_ReturnsStringsNumbersArraysAndNestedObjects()
    {
        var payload = new Dictionary<string, object?>
        {
            ["sub"] = "user123",
            ["big"] = 9_007_199_254_740_993L, // 2^53 + 1: a double would lose the last digit
            ["ratio"] = 0.5,
            ["admin"] = true,
            ["nothing"] = null,
            ["roles"] = new[] { "admin", "ops" },
            ["address"] = new Dictionary<string, object> { ["city"] = "Oslo", ["zip"] = 150 },
            ["exp"] = Now.AddMinutes(5),
        };
        string token = Jwt.Encode(payload, Secret32);

        var claims = Jwt.Decode(token, Secret32, ["HS256"], At(Now));

        Assert.Equal("user123", claims["sub"]);
        Assert.Equal(9_007_199_254_740_993L, Assert.IsType<long>(claims["big"]));
        Assert.Equal(0.5, Assert.IsType<double>(claims["ratio"]));
        Assert.Equal(true, claims["admin"]);
        Assert.True(claims.ContainsKey("nothing"));
        Assert.Null(claims["nothing"]);
        Assert.Equal(new object?[] { "admin", "ops" }, Assert.IsType<object?[]>(claims["roles"]));
        var address = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(claims["address"]);
        Assert.Equal("Oslo", address["city"]);
        Assert.Equal(150L, address["zip"]);
        Assert.Equal(NowSeconds + 300, claims["exp"]);
    }

    [Fact]
    public void Decode_ByteArrayKey_VerifiesSameAsStringKey()
    {
        string token = Jwt.Encode(SeedClaims(), Secret32Bytes);

        Assert.Equal("user123", Jwt.Decode(token, Secret32Bytes, ["HS256"])["sub"]);
        Assert.Equal("user123", Jwt.Decode(token, Secret32, ["HS256"])["sub"]);
    }

    [Fact]
    public void Decode_EmptyAlgorithmList_ThrowsArgumentException()
    {
        string token = Jwt.Encode(SeedClaims(), Secret32);

        var e = Assert.Throws<ArgumentException>(() => Jwt.Decode(token, Secret32, []));

        Assert.Equal("algorithms", e.ParamName);
    }

    [Fact]
    public void Decode_NullAlgorithmList_ThrowsArgumentNullException()
    {
        string token = Jwt.Encode(SeedClaims(), Secret32);

        Assert.Throws<ArgumentNullException>(() => Jwt.Decode(token, Secret32, null!));
    }

    // ---- exp / nbf / iat, on both sides of every boundary (fake clock at Now) ----

    [Theory]
    [InlineData("expires in 60 s, leeway 0 s → accepted", 60, 0, true)]
    [InlineData("expires in 1 s, leeway 0 s → accepted", 1, 0, true)]
    [InlineData("expires now, leeway 0 s → JwtExpiredException", 0, 0, false)]
    [InlineData("expired 1 s ago, leeway 0 s → JwtExpiredException", -1, 0, false)]
    [InlineData("expired 10 s ago, leeway 30 s → accepted", -10, 30, true)]
    [InlineData("expired 29 s ago, leeway 30 s → accepted", -29, 30, true)]
    [InlineData("expired 30 s ago, leeway 30 s → JwtExpiredException", -30, 30, false)]
    [InlineData("expired 31 s ago, leeway 30 s → JwtExpiredException", -31, 30, false)]
    [InlineData("expired 1 h ago, leeway 30 s → JwtExpiredException", -3600, 30, false)]
    public void Decode_Exp_AcceptedOnlyBeforeExpiryPlusLeeway(string @case, int expiresIn, int leeway, bool accepted)
    {
        _ = @case;
        string token = Jwt.Encode(new { sub = "u1", exp = Now.AddSeconds(expiresIn) }, Secret32);
        var options = At(Now, TimeSpan.FromSeconds(leeway));

        if (accepted)
        {
            Assert.Equal("u1", Jwt.Decode(token, Secret32, ["HS256"], options)["sub"]);
        }
        else
        {
            var e = Assert.Throws<JwtExpiredException>(() => Jwt.Decode(token, Secret32, ["HS256"], options));
            Assert.Equal(Now.AddSeconds(expiresIn), e.ExpiredAt);
            Assert.Equal(JwtFailure.Expired, e.Failure);
        }
    }

    [Theory]
    [InlineData("expired 30 s ago, default leeway → JwtExpiredException", -30, false)]
    [InlineData("expired 29 s ago, default leeway → accepted", -29, true)]
    public void Decode_ExpWithDefaultLeeway_LeewayIs30Seconds(string @case, int expiresIn, bool accepted)
    {
        _ = @case;
        string token = Jwt.Encode(new { exp = Now.AddSeconds(expiresIn) }, Secret32);

        Exception? e = Record.Exception(() => Jwt.Decode(token, Secret32, ["HS256"], At(Now)));

        if (accepted)
            Assert.Null(e);
        else
            Assert.IsType<JwtExpiredException>(e);
    }

    [Fact]
    public void Decode_ClockMovesPastExp_SameTokenBecomesExpired()
    {
        var clock = new FakeTimeProvider(Now);
        var options = new JwtDecodeOptions { TimeProvider = clock, Leeway = TimeSpan.Zero };
        string token = Jwt.Encode(new { exp = Now.AddMinutes(30) }, Secret32);

        clock.Advance(TimeSpan.FromMinutes(30) - TimeSpan.FromMilliseconds(1));
        Jwt.Decode(token, Secret32, ["HS256"], options);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Throws<JwtExpiredException>(() => Jwt.Decode(token, Secret32, ["HS256"], options));
    }

    [Theory]
    [InlineData("nbf now, leeway 0 s → accepted", 0, 0, true)]
    [InlineData("nbf 1 h ago, leeway 0 s → accepted", -3600, 0, true)]
    [InlineData("nbf in 1 s, leeway 0 s → JwtNotYetValidException", 1, 0, false)]
    [InlineData("nbf in 30 s, leeway 30 s → accepted", 30, 30, true)]
    [InlineData("nbf in 31 s, leeway 30 s → JwtNotYetValidException", 31, 30, false)]
    public void Decode_Nbf_AcceptedFromNbfMinusLeeway(string @case, int validIn, int leeway, bool accepted)
    {
        _ = @case;
        string token = Jwt.Encode(new { sub = "u1", nbf = Now.AddSeconds(validIn) }, Secret32);

        Exception? e = Record.Exception(() => Jwt.Decode(token, Secret32, ["HS256"], At(Now, TimeSpan.FromSeconds(leeway))));

        if (accepted)
            Assert.Null(e);
        else
            Assert.Contains("'nbf'", Assert.IsType<JwtNotYetValidException>(e).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("iat now, leeway 0 s → accepted", 0, 0, true)]
    [InlineData("iat in 1 s, leeway 0 s → JwtNotYetValidException", 1, 0, false)]
    [InlineData("iat in 30 s, leeway 30 s → accepted", 30, 30, true)]
    [InlineData("iat in 31 s, leeway 30 s → JwtNotYetValidException", 31, 30, false)]
    public void Decode_Iat_RefusedWhenIssuedInTheFutureBeyondLeeway(string @case, int issuedIn, int leeway, bool accepted)
    {
        _ = @case;
        string token = Jwt.Encode(new { sub = "u1", iat = Now.AddSeconds(issuedIn) }, Secret32);

        Exception? e = Record.Exception(() => Jwt.Decode(token, Secret32, ["HS256"], At(Now, TimeSpan.FromSeconds(leeway))));

        if (accepted)
            Assert.Null(e);
        else
            Assert.Contains("'iat'", Assert.IsType<JwtNotYetValidException>(e).Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> TimeClaimsNotNumbers() => new()
    {
        { "exp as a string", """{"sub":"u1","exp":"1893456300"}""" },
        { "nbf as a string", """{"sub":"u1","nbf":"1893456000"}""" },
        { "iat as a string", """{"sub":"u1","iat":"1893456000"}""" },
        { "exp as null", """{"sub":"u1","exp":null}""" },
        { "exp as a boolean", """{"sub":"u1","exp":true}""" },
    };

    [Theory]
    [MemberData(nameof(TimeClaimsNotNumbers))]
    public void Decode_TimeClaimNotANumber_ThrowsJwtMalformedException(string @case, string payloadJson)
    {
        _ = @case;
        string token = HandBuilt("""{"alg":"HS256","typ":"JWT"}""", payloadJson);

        Assert.Throws<JwtMalformedException>(() => Jwt.Decode(token, Secret32, ["HS256"], At(Now)));
    }

    // ---- signatures and algorithms ----

    [Fact]
    public void Decode_PayloadTampered_ThrowsJwtInvalidSignatureException()
    {
        string token = Jwt.Encode(new { sub = "user123", role = "user" }, Secret32);
        string[] parts = token.Split('.');
        string forged = parts[0] + "." + B64("""{"sub":"user123","role":"admin"}""") + "." + parts[2];

        var e = Assert.Throws<JwtInvalidSignatureException>(() => Jwt.Decode(forged, Secret32, ["HS256"]));

        Assert.Equal(JwtFailure.InvalidSignature, e.Failure);
    }

    [Fact]
    public void Decode_SignatureTampered_ThrowsJwtInvalidSignatureException()
    {
        string token = Jwt.Encode(SeedClaims(), Secret32);
        char first = token[token.LastIndexOf('.') + 1];
        string forged = token[..(token.LastIndexOf('.') + 1)] + (first == 'A' ? 'B' : 'A') + token[(token.LastIndexOf('.') + 2)..];

        Assert.Throws<JwtInvalidSignatureException>(() => Jwt.Decode(forged, Secret32, ["HS256"]));
    }

    [Fact]
    public void Decode_SignedWithAnotherSecret_ThrowsJwtInvalidSignatureException()
    {
        string token = Jwt.Encode(SeedClaims(), "another secret, also 32 bytes ok");

        Assert.Throws<JwtInvalidSignatureException>(() => Jwt.Decode(token, Secret32, ["HS256"]));
    }

    [Fact]
    public void Decode_SignatureTruncated_ThrowsJwtInvalidSignatureException()
    {
        string token = Jwt.Encode(SeedClaims(), Secret32);
        byte[] mac = Base64Url.DecodeFromChars(Part(token, 2));
        string truncated = token[..(token.LastIndexOf('.') + 1)] + Base64Url.EncodeToString(mac.AsSpan(0, 16));

        Assert.Throws<JwtInvalidSignatureException>(() => Jwt.Decode(truncated, Secret32, ["HS256"]));
    }

    [Theory]
    [InlineData("HS384")]
    [InlineData("RS256")]
    public void Decode_AlgorithmNotInList_ThrowsJwtAlgorithmNotAllowedException(string allowed)
    {
        string token = Jwt.Encode(SeedClaims(), new string('k', 64), "HS512");

        var e = Assert.Throws<JwtAlgorithmNotAllowedException>(() => Jwt.Decode(token, new string('k', 64), [allowed]));

        Assert.Equal("HS512", e.Algorithm);
        Assert.Equal(JwtFailure.AlgorithmNotAllowed, e.Failure);
    }

    [Fact]
    public void Decode_AlgorithmListedInOtherCase_ThrowsJwtAlgorithmNotAllowedException()
    {
        string token = Jwt.Encode(SeedClaims(), Secret32);

        Assert.Throws<JwtAlgorithmNotAllowedException>(() => Jwt.Decode(token, Secret32, ["hs256"]));
    }

    [Theory]
    [InlineData("none")]
    [InlineData("None")]
    [InlineData("NONE")]
    [InlineData("nOnE")]
    public void Decode_AlgNoneWithSignaturePart_ThrowsJwtAlgorithmNotAllowedException(string none)
    {
        // Hand-built: Latchkey cannot make such a token. Even listing "none" does not enable it.
        string token = HandBuilt($$"""{"alg":"{{none}}","typ":"JWT"}""", """{"sub":"admin"}""");

        var e = Assert.Throws<JwtAlgorithmNotAllowedException>(() => Jwt.Decode(token, Secret32, ["HS256", none]));

        Assert.Equal(none, e.Algorithm);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("None")]
    [InlineData("NONE")]
    public void Decode_AlgNoneWithEmptySignature_ThrowsJwtAlgorithmNotAllowedException(string none)
    {
        // The unsecured JWS of RFC 7519 §6.1: "header.payload." — refused, and named for its algorithm.
        string token = B64($$"""{"alg":"{{none}}","typ":"JWT"}""") + "." + B64("""{"sub":"admin"}""") + ".";

        Assert.Throws<JwtAlgorithmNotAllowedException>(() => Jwt.Decode(token, Secret32, ["HS256", none]));
    }

    [Fact]
    public void Decode_ExpTooLargeForADouble_ThrowsJwtMalformedException()
    {
        // 1e400 would read as infinity: a token that never expires.
        string token = HandBuilt("""{"alg":"HS256","typ":"JWT"}""", """{"sub":"x","exp":1e400}""");

        Assert.Throws<JwtMalformedException>(() => Jwt.Decode(token, Secret32, ["HS256"]));
    }

    // ---- shape ----

    public static TheoryData<string, string> MalformedTokens()
    {
        string valid = Jwt.Encode(SeedClaims(), Secret32);
        string[] p = valid.Split('.');
        const string header = """{"alg":"HS256","typ":"JWT"}""";
        const string payload = """{"sub":"user123","role":"admin"}""";
        // The payload encodes to 43 characters; the last one carries 4 data bits and 2 unused ones. +1 sets an unused bit.
        string nonCanonicalPayload = p[1][..^1] + (char)(p[1][^1] + 1);
        return new TheoryData<string, string>
        {
            { "empty string", "" },
            { "one part", p[0] },
            { "two parts", p[0] + "." + p[1] },
            { "four parts", valid + "." + p[2] },
            { "empty header", "." + p[1] + "." + p[2] },
            { "'+' in payload (base64, not base64url)", p[0] + "." + p[1][..5] + "+" + p[1][6..] + "." + p[2] },
            { "'*' in header", "*" + p[0][1..] + "." + p[1] + "." + p[2] },
            { "space inside payload", p[0] + "." + p[1][..10] + " " + p[1][10..] + "." + p[2] },
            { "newline inside header", p[0][..10] + "\n" + p[0][10..] + "." + p[1] + "." + p[2] },
            { "leading space", " " + valid },
            { "trailing newline", valid + "\n" },
            { "padding '=' on payload", p[0] + "." + p[1] + "=." + p[2] },
            { "padding '=' on signature", valid + "=" },
            { "non-canonical base64url payload", p[0] + "." + nonCanonicalPayload + "." + p[2] },
            { "header not JSON", HandBuilt("not json", payload) },
            { "header a JSON string", HandBuilt("\"HS256\"", payload) },
            { "header without alg", HandBuilt("""{"typ":"JWT"}""", payload) },
            { "alg a number", HandBuilt("""{"alg":256}""", payload) },
            { "payload not JSON", HandBuilt(header, "sub=user123") },
            { "payload a JSON array", HandBuilt(header, """[{"sub":"user123"}]""") },
            { "payload a JSON number", HandBuilt(header, "42") },
            { "payload empty", HandBuilt(header, "") },
            { "trailing data after the payload object", HandBuilt(header, payload + "x") },
            { "second object after the payload object", HandBuilt(header, payload + """{"role":"admin"}""") },
            { "trailing data after the header object", HandBuilt(header + "]", payload) },
            { "duplicate key in header", HandBuilt("""{"alg":"HS256","typ":"JWT","alg":"HS256"}""", payload) },
            { "duplicate key in payload", HandBuilt(header, """{"sub":"user123","role":"user","role":"admin"}""") },
            { "payload not UTF-8", HandBuiltBytes(Encoding.UTF8.GetBytes(header), [.. "{\"sub\":\""u8, 0xFF, .. "\"}"u8]) },
            { "header not UTF-8 (in alg)", HandBuiltBytes([.. "{\"alg\":\"HS256"u8, 0xC3, .. "\"}"u8], Encoding.UTF8.GetBytes(payload)) },
            { "header not UTF-8 (in another member)", HandBuiltBytes([.. "{\"alg\":\"HS256\",\"x\":\""u8, 0xC3, .. "\"}"u8], Encoding.UTF8.GetBytes(payload)) },
            { "payload nested 100 deep", HandBuilt(header, "{\"a\":" + string.Concat(Enumerable.Repeat("[", 100)) + string.Concat(Enumerable.Repeat("]", 100)) + "}") },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedTokens))]
    public void Decode_MalformedToken_ThrowsJwtMalformedException(string @case, string token)
    {
        _ = @case;

        var e = Assert.Throws<JwtMalformedException>(() => Jwt.Decode(token, Secret32, ["HS256"]));

        Assert.Equal(JwtFailure.Malformed, e.Failure);
    }

    [Fact]
    public void Decode_HandBuiltWellFormedToken_Decodes()
    {
        // The control for the malformed cases above: the same hand-building, without the defect, is accepted.
        string token = HandBuilt("""{"alg":"HS256","typ":"JWT"}""", """{"sub":"user123","role":"admin"}""");

        Assert.Equal("admin", Jwt.Decode(token, Secret32, ["HS256"])["role"]);
    }

    [Fact]
    public void Decode_TokenOver8KiB_ThrowsJwtExceptionTooLarge()
    {
        string token = Jwt.Encode(new { sub = "u1", blob = new string('x', 8 * 1024) }, Secret32);

        var e = Assert.Throws<JwtException>(() => Jwt.Decode(token, Secret32, ["HS256"]));

        Assert.Equal(JwtFailure.TooLarge, e.Failure);
    }

    [Fact]
    public void Decode_TokenOf8192Characters_Decodes()
    {
        string token = TokenOfLength(8192);

        Assert.Equal("u1", Jwt.Decode(token, Secret32, ["HS256"])["sub"]);
        Assert.Equal(JwtFailure.TooLarge, Assert.Throws<JwtException>(() => Jwt.Decode(TokenOfLength(8193), Secret32, ["HS256"])).Failure);
    }

    [Fact]
    public void Decode_LargeTokenWithRaisedMaxTokenLength_Decodes()
    {
        string token = Jwt.Encode(new { sub = "u1", blob = new string('x', 8 * 1024) }, Secret32);

        var claims = Jwt.Decode(token, Secret32, ["HS256"], new JwtDecodeOptions { MaxTokenLength = 16 * 1024 });

        Assert.Equal("u1", claims["sub"]);
    }

    [Theory]
    [InlineData("""{"alg":"HS256","typ":"JWT","crit":["exp"],"exp":1}""")]
    [InlineData("""{"alg":"HS256","crit":[]}""")]
    public void Decode_CritHeader_ThrowsJwtUnsupportedHeaderException(string header)
    {
        string token = HandBuilt(header, """{"sub":"u1"}""");

        var e = Assert.Throws<JwtUnsupportedHeaderException>(() => Jwt.Decode(token, Secret32, ["HS256"]));

        Assert.Equal(JwtFailure.UnsupportedHeader, e.Failure);
    }

    [Theory]
    [InlineData("""{"alg":"HS256","b64":false}""")]
    [InlineData("""{"alg":"HS256","b64":true}""")]
    public void Decode_B64Header_ThrowsJwtUnsupportedHeaderException(string header)
    {
        string token = HandBuilt(header, """{"sub":"u1"}""");

        Assert.Throws<JwtUnsupportedHeaderException>(() => Jwt.Decode(token, Secret32, ["HS256"]));
    }

    // ---- issuer, audience, required claims ----

    [Fact]
    public void Decode_IssuerMatches_Decodes()
    {
        string token = Jwt.Encode(new { iss = "https://id.example.com", sub = "u1" }, Secret32);

        var claims = Jwt.Decode(token, Secret32, ["HS256"], new JwtDecodeOptions { Issuer = "https://id.example.com" });

        Assert.Equal("u1", claims["sub"]);
    }

    [Theory]
    [InlineData("""{"iss":"https://evil.example.com"}""")]
    [InlineData("""{"iss":"https://id.example.com/"}""")]
    [InlineData("""{"iss":["https://id.example.com"]}""")]
    [InlineData("""{"sub":"u1"}""")]
    public void Decode_IssuerWrongOrMissing_ThrowsJwtInvalidIssuerException(string payload)
    {
        string token = HandBuilt("""{"alg":"HS256","typ":"JWT"}""", payload);

        Assert.Throws<JwtInvalidIssuerException>(() =>
            Jwt.Decode(token, Secret32, ["HS256"], new JwtDecodeOptions { Issuer = "https://id.example.com" }));
    }

    [Theory]
    [InlineData("""{"aud":"api"}""")]
    [InlineData("""{"aud":["web","api"]}""")]
    public void Decode_AudienceStringOrArrayContainsExpected_Decodes(string payload)
    {
        string token = HandBuilt("""{"alg":"HS256","typ":"JWT"}""", payload);

        var claims = Jwt.Decode(token, Secret32, ["HS256"], new JwtDecodeOptions { Audience = "api" });

        Assert.True(claims.ContainsKey("aud"));
    }

    [Theory]
    [InlineData("""{"aud":"web"}""")]
    [InlineData("""{"aud":["web","mobile"]}""")]
    [InlineData("""{"aud":[]}""")]
    [InlineData("""{"aud":"API"}""")]
    [InlineData("""{"sub":"u1"}""")]
    public void Decode_AudienceNotContainingExpected_ThrowsJwtInvalidAudienceException(string payload)
    {
        string token = HandBuilt("""{"alg":"HS256","typ":"JWT"}""", payload);

        Assert.Throws<JwtInvalidAudienceException>(() =>
            Jwt.Decode(token, Secret32, ["HS256"], new JwtDecodeOptions { Audience = "api" }));
    }

    [Theory]
    [InlineData("""{"aud":"api"}""")]
    [InlineData("""{"aud":["api"]}""")]
    public void Decode_TokenHasAudienceButNoAudienceOption_ThrowsJwtInvalidAudienceException(string payload)
    {
        // As PyJWT: a token meant for some API is not accepted by a caller that did not say which API it is.
        string token = HandBuilt("""{"alg":"HS256","typ":"JWT"}""", payload);

        Assert.Throws<JwtInvalidAudienceException>(() => Jwt.Decode(token, Secret32, ["HS256"]));
    }

    [Fact]
    public void Decode_RequiredClaimMissing_ThrowsJwtMissingClaimException()
    {
        string token = Jwt.Encode(new { sub = "u1" }, Secret32);

        var e = Assert.Throws<JwtMissingClaimException>(() =>
            Jwt.Decode(token, Secret32, ["HS256"], new JwtDecodeOptions { RequiredClaims = ["sub", "exp"] }));

        Assert.Contains("'exp'", e.Message, StringComparison.Ordinal);
        Assert.Equal(JwtFailure.MissingClaim, e.Failure);
    }

    [Fact]
    public void Decode_RequiredClaimsPresent_Decodes()
    {
        string token = Jwt.Encode(new { sub = "u1", exp = Now.AddMinutes(5) }, Secret32);

        var claims = Jwt.Decode(token, Secret32, ["HS256"], At(Now) with { RequiredClaims = ["sub", "exp"] });

        Assert.Equal("u1", claims["sub"]);
    }

    // ---- asymmetric keys and algorithm confusion (RFC 8725 §2.1) ----

    [Theory]
    [MemberData(nameof(EcAlgorithms))]
    public void Decode_EcTokenWithPublicKeyOnly_Decodes(string algorithm)
    {
        ECDsa key = algorithm switch { "ES256" => P256.Value, "ES384" => P384.Value, _ => P521.Value };
        string token = Jwt.Encode(SeedClaims(), key, algorithm);
        using ECDsa publicOnly = ECDsa.Create();
        publicOnly.ImportFromPem(key.ExportSubjectPublicKeyInfoPem());

        Assert.Equal("user123", Jwt.Decode(token, publicOnly, [algorithm])["sub"]);
    }

    [Theory]
    [MemberData(nameof(RsaAlgorithms))]
    public void Decode_RsaTokenWithPublicKeyOnly_Decodes(string algorithm)
    {
        string token = Jwt.Encode(SeedClaims(), Rsa2048.Value, algorithm);
        using RSA publicOnly = RSA.Create();
        publicOnly.ImportFromPem(Rsa2048.Value.ExportSubjectPublicKeyInfoPem());

        Assert.Equal("user123", Jwt.Decode(token, publicOnly, [algorithm])["sub"]);
    }

    [Fact]
    public void Decode_EcTokenWithOtherKeyOnSameCurve_ThrowsJwtInvalidSignatureException()
    {
        string token = Jwt.Encode(SeedClaims(), P256.Value, "ES256");
        using ECDsa other = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.Throws<JwtInvalidSignatureException>(() => Jwt.Decode(token, other, ["ES256"]));
    }

    [Fact]
    public void Decode_RsaKeyUnder2048Bits_ThrowsJwtKeyException()
    {
        string token = Jwt.Encode(SeedClaims(), Rsa2048.Value, "RS256");
        using RSA small = RSA.Create(1024);

        Assert.Throws<JwtKeyException>(() => Jwt.Decode(token, small, ["RS256"]));
    }

    [Fact]
    public void Decode_HS256TokenMacedWithRsaPublicPemGivenRsaKey_ThrowsJwtAlgorithmNotAllowedException()
    {
        // The classic confusion attack: the attacker signs HS256 with the server's public key text as the secret,
        // hoping the verifier feeds its RSA key's bytes to HMAC.
        RSA rsa = Rsa2048.Value;
        string pem = rsa.ExportSubjectPublicKeyInfoPem();
        string token = HandBuilt("""{"alg":"HS256","typ":"JWT"}""", """{"sub":"admin"}""", Encoding.UTF8.GetBytes(pem));
        using RSA publicOnly = RSA.Create();
        publicOnly.ImportFromPem(pem);

        var e = Assert.Throws<JwtAlgorithmNotAllowedException>(() => Jwt.Decode(token, publicOnly, ["HS256", "RS256"]));

        Assert.Equal("HS256", e.Algorithm);
    }

    [Fact]
    public void Decode_HS256TokenMacedWithEcPublicPemGivenEcKey_ThrowsJwtAlgorithmNotAllowedException()
    {
        string pem = P256.Value.ExportSubjectPublicKeyInfoPem();
        string token = HandBuilt("""{"alg":"HS256","typ":"JWT"}""", """{"sub":"admin"}""", Encoding.UTF8.GetBytes(pem));

        Assert.Throws<JwtAlgorithmNotAllowedException>(() => Jwt.Decode(token, P256.Value, ["HS256", "ES256"]));
    }

    [Theory]
    [MemberData(nameof(PublicKeyTexts))]
    public void Decode_PublicKeyTextAsHmacSecret_ThrowsJwtKeyException(string pem)
    {
        string token = HandBuilt("""{"alg":"HS256","typ":"JWT"}""", """{"sub":"admin"}""", Encoding.UTF8.GetBytes(pem));

        Assert.Throws<JwtKeyException>(() => Jwt.Decode(token, pem, ["HS256"]));
        Assert.Throws<JwtKeyException>(() => Jwt.Decode(token, Encoding.UTF8.GetBytes(pem), ["HS256"]));
    }

    [Fact]
    public void Decode_ES256TokenSignedOnSecp256k1_ThrowsJwtKeyException()
    {
        // A 256-bit curve that is not P-256: its signatures have the ES256 shape but ES256 does not mean this curve.
        using ECDsa k1 = ECDsa.Create(ECCurve.CreateFromFriendlyName("secp256k1"));
        string signingInput = B64("""{"alg":"ES256","typ":"JWT"}""") + "." + B64("""{"sub":"u1"}""");
        byte[] signature = k1.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        string token = signingInput + "." + Base64Url.EncodeToString(signature);

        Assert.Throws<JwtKeyException>(() => Jwt.Decode(token, k1, ["ES256"]));
    }

    [Fact]
    public void Decode_EcTokenGivenRsaKey_ThrowsJwtAlgorithmNotAllowedException()
    {
        string token = Jwt.Encode(SeedClaims(), P256.Value, "ES256");

        Assert.Throws<JwtAlgorithmNotAllowedException>(() => Jwt.Decode(token, Rsa2048.Value, ["ES256", "RS256"]));
    }

    [Fact]
    public void Decode_ES256TokenGivenP384Key_ThrowsJwtAlgorithmNotAllowedException()
    {
        string token = Jwt.Encode(SeedClaims(), P256.Value, "ES256");

        Assert.Throws<JwtAlgorithmNotAllowedException>(() => Jwt.Decode(token, P384.Value, ["ES256", "ES384"]));
    }

    // ---- tokens made by Microsoft.IdentityModel decode here ----

    private static SecurityTokenDescriptor IdentityModelDescriptor(SigningCredentials credentials) => new()
    {
        Issuer = "https://id.example.com",
        Claims = new Dictionary<string, object> { ["sub"] = "u1", ["role"] = "admin" },
        IssuedAt = Now.UtcDateTime,
        NotBefore = Now.UtcDateTime,
        Expires = Now.AddMinutes(10).UtcDateTime,
        SigningCredentials = credentials,
    };

    private static void AssertDecodesIdentityModelToken(IReadOnlyDictionary<string, object?> claims)
    {
        Assert.Equal("u1", claims["sub"]);
        Assert.Equal("admin", claims["role"]);
        Assert.Equal("https://id.example.com", claims["iss"]);
        Assert.Equal(NowSeconds + 600, claims["exp"]);
    }

    [Fact]
    public void Decode_JsonWebTokenHandlerHS256Token_Decodes()
    {
        string token = new JsonWebTokenHandler().CreateToken(IdentityModelDescriptor(
            new SigningCredentials(new SymmetricSecurityKey(Secret32Bytes), SecurityAlgorithms.HmacSha256)));

        var claims = Jwt.Decode(token, Secret32Bytes, ["HS256"], At(Now.AddMinutes(1)) with { Issuer = "https://id.example.com" });

        AssertDecodesIdentityModelToken(claims);
    }

    [Fact]
    public void Decode_JsonWebTokenHandlerES256Token_Decodes()
    {
        string token = new JsonWebTokenHandler().CreateToken(IdentityModelDescriptor(
            new SigningCredentials(new ECDsaSecurityKey(P256.Value), SecurityAlgorithms.EcdsaSha256)));

        var claims = Jwt.Decode(token, P256.Value, ["ES256"], At(Now.AddMinutes(1)) with { Issuer = "https://id.example.com" });

        AssertDecodesIdentityModelToken(claims);
    }

    [Fact]
    public void Decode_JsonWebTokenHandlerRS256Token_Decodes()
    {
        string token = new JsonWebTokenHandler().CreateToken(IdentityModelDescriptor(
            new SigningCredentials(new RsaSecurityKey(Rsa2048.Value), SecurityAlgorithms.RsaSha256)));

        var claims = Jwt.Decode(token, Rsa2048.Value, ["RS256"], At(Now.AddMinutes(1)) with { Issuer = "https://id.example.com" });

        AssertDecodesIdentityModelToken(claims);
    }

    [Fact]
    public void Decode_JsonWebTokenHandlerTokenAfterItsExp_ThrowsJwtExpiredException()
    {
        string token = new JsonWebTokenHandler().CreateToken(IdentityModelDescriptor(
            new SigningCredentials(new SymmetricSecurityKey(Secret32Bytes), SecurityAlgorithms.HmacSha256)));

        Assert.Throws<JwtExpiredException>(() => Jwt.Decode(token, Secret32Bytes, ["HS256"], At(Now.AddMinutes(11))));
    }

    // ---- the exception hierarchy ----

    [Fact]
    public void JwtExceptions_EveryPublicExceptionType_DerivesFromJwtException()
    {
        Type[] exceptions = typeof(Jwt).Assembly.GetExportedTypes().Where(t => typeof(Exception).IsAssignableFrom(t) && t.Name.StartsWith("Jwt", StringComparison.Ordinal)).ToArray();

        Assert.Contains(typeof(JwtExpiredException), exceptions);
        Assert.All(exceptions, t => Assert.True(typeof(JwtException).IsAssignableFrom(t), $"{t.Name} does not derive from JwtException."));
    }

    [Fact]
    public void Decode_AnyRefusal_CanBeCaughtAsJwtException()
    {
        string expired = Jwt.Encode(new { exp = Now.AddMinutes(-5) }, Secret32);
        string tampered = Jwt.Encode(SeedClaims(), Secret32)[..^2] + "AA";

        Assert.IsType<JwtExpiredException>(Assert.ThrowsAny<JwtException>(() => Jwt.Decode(expired, Secret32, ["HS256"], At(Now))));
        Assert.IsType<JwtInvalidSignatureException>(Assert.ThrowsAny<JwtException>(() => Jwt.Decode(tampered, Secret32, ["HS256"])));
        Assert.IsType<JwtMalformedException>(Assert.ThrowsAny<JwtException>(() => Jwt.Decode("a.b", Secret32, ["HS256"])));
    }

    // ---- hand-building ----

    private static string B64(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    /// <summary>A token from raw header and payload text, correctly HMAC-SHA256-signed, so only its shape can be wrong.</summary>
    private static string HandBuilt(string headerJson, string payloadJson, byte[]? secret = null)
    {
        string signingInput = B64(headerJson) + "." + B64(payloadJson);
        byte[] mac = HMACSHA256.HashData(secret ?? Secret32Bytes, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.EncodeToString(mac);
    }

    private static string HandBuiltBytes(byte[] header, byte[] payload)
    {
        string signingInput = Base64Url.EncodeToString(header) + "." + Base64Url.EncodeToString(payload);
        return signingInput + "." + Base64Url.EncodeToString(HMACSHA256.HashData(Secret32Bytes, Encoding.ASCII.GetBytes(signingInput)));
    }

    /// <summary>A valid HS256 token of exactly <paramref name="length"/> characters.</summary>
    private static string TokenOfLength(int length)
    {
        string empty = Jwt.Encode(new { sub = "u1", pad = "" }, Secret32);
        // Each 3 payload bytes add 4 characters; tune the pad until the length is exact.
        for (int pad = (length - empty.Length) * 3 / 4 - 3; ; pad++)
        {
            string token = Jwt.Encode(new { sub = "u1", pad = new string('x', pad) }, Secret32);
            if (token.Length == length)
                return token;
            if (token.Length > length)
                throw new InvalidOperationException($"No token of exactly {length} characters.");
        }
    }
}
