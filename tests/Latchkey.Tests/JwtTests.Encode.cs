using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Xunit;

namespace Latchkey.Tests;

public sealed partial class JwtTests
{
    // The oracle: what the seed tutorial's FastAPI app returns, produced by python-jose 3.3.0
    // (Debian 12's python3-jose) from jwt.encode({"sub": "user123", "role": "admin"}, "mysecretkey123", algorithm="HS256").
    // Copied from /work/shared/interop/seed-token.txt.
    private const string SeedToken =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyMTIzIiwicm9sZSI6ImFkbWluIn0.XsdLw8gMhfpgs01nUadm-DvLYNgZRhdgMqm0TSJNMb8";

    private const string SeedSecret = "mysecretkey123";

    private static Dictionary<string, object> SeedClaims() => new() { ["sub"] = "user123", ["role"] = "admin" };

    // 32 ASCII bytes: the minimum RFC 7518 §3.2 allows for HS256.
    private const string Secret32 = "0123456789abcdef0123456789abcdef";

    private static readonly Lazy<RSA> Rsa2048 = new(() => RSA.Create(2048));
    private static readonly Lazy<ECDsa> P256 = new(() => ECDsa.Create(ECCurve.NamedCurves.nistP256));
    private static readonly Lazy<ECDsa> P384 = new(() => ECDsa.Create(ECCurve.NamedCurves.nistP384));
    private static readonly Lazy<ECDsa> P521 = new(() => ECDsa.Create(ECCurve.NamedCurves.nistP521));

    [Fact]
    public void Encode_PublicOnlyEcKey_ThrowsJwtKeyException()
    {
        using ECDsa publicOnly = ECDsa.Create(P256.Value.ExportParameters(includePrivateParameters: false));

        Assert.Throws<JwtKeyException>(() => Jwt.Encode(SeedClaims(), publicOnly, "ES256"));
    }

    [Fact]
    public void Encode_SeedTutorialInputs_EqualsPythonJoseTokenByteForByte()
    {
        string token = Jwt.Encode(SeedClaims(), SeedSecret, allowShortHmacKey: true);

        Assert.Equal(SeedToken, token);
    }

    [Fact]
    public void Encode_NoAlgorithmGiven_SignsWithHS256()
    {
        string token = Jwt.Encode(SeedClaims(), Secret32);

        Assert.Equal("HS256", Jwt.DefaultAlgorithm);
        Assert.Equal("""{"alg":"HS256","typ":"JWT"}""", PartJson(token, 0));
        Assert.Equal(Jwt.Encode(SeedClaims(), Secret32, algorithm: "HS256"), token);
        Assert.Equal(ExpectedHmac(token, Encoding.UTF8.GetBytes(Secret32), HMACSHA256.HashData), Part(token, 2));
    }

    [Fact]
    public void Encode_SeedSecretWithoutOptIn_ThrowsJwtKeyException()
    {
        var e = Assert.Throws<JwtKeyException>(() => Jwt.Encode(SeedClaims(), SeedSecret));

        Assert.Contains("RFC 7518 §3.2", e.Message, StringComparison.Ordinal);
        Assert.Equal(JwtFailure.InvalidKey, e.Failure);
    }

    [Theory]
    [InlineData("HS256", 31)]
    [InlineData("HS384", 47)]
    [InlineData("HS512", 63)]
    public void Encode_SecretOneByteShorterThanHash_ThrowsJwtKeyExceptionNamingRfc7518(string algorithm, int length)
    {
        var e = Assert.Throws<JwtKeyException>(() => Jwt.Encode(SeedClaims(), new string('k', length), algorithm));

        Assert.Contains("RFC 7518 §3.2", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{length} bytes", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HS256", 32)]
    [InlineData("HS384", 48)]
    [InlineData("HS512", 64)]
    public void Encode_SecretAsLongAsHash_SignsWithThatAlgorithm(string algorithm, int length)
    {
        byte[] secret = Encoding.UTF8.GetBytes(new string('k', length));
        Func<byte[], byte[], byte[]> mac = algorithm switch
        {
            "HS256" => HMACSHA256.HashData,
            "HS384" => HMACSHA384.HashData,
            _ => HMACSHA512.HashData,
        };

        string token = Jwt.Encode(SeedClaims(), new string('k', length), algorithm);

        Assert.Equal($$"""{"alg":"{{algorithm}}","typ":"JWT"}""", PartJson(token, 0));
        Assert.Equal(ExpectedHmac(token, secret, mac), Part(token, 2));
    }

    [Theory]
    [InlineData("HS256", 31)]
    [InlineData("HS384", 47)]
    [InlineData("HS512", 63)]
    public void Encode_ShortSecretWithOptIn_Signs(string algorithm, int length)
    {
        string token = Jwt.Encode(SeedClaims(), new string('k', length), algorithm, allowShortHmacKey: true);

        var claims = Jwt.Decode(token, new string('k', length), [algorithm], new JwtDecodeOptions { AllowShortHmacKey = true });
        Assert.Equal("user123", claims["sub"]);
    }

    [Fact]
    public void Encode_Dictionary_KeepsKeysAndInsertionOrder()
    {
        var payload = new Dictionary<string, object?> { ["sub"] = "u1", ["ClientId"] = "c1", ["n"] = 5, ["ok"] = true, ["x"] = null };

        string token = Jwt.Encode(payload, Secret32);

        Assert.Equal("""{"sub":"u1","ClientId":"c1","n":5,"ok":true,"x":null}""", PartJson(token, 1));
    }

    [Fact]
    public void Encode_AnonymousObject_WritesPropertiesInSnakeCase()
    {
        string token = Jwt.Encode(new { sub = "u1", role = "admin", ClientId = "c1" }, Secret32);

        Assert.Equal("""{"sub":"u1","role":"admin","client_id":"c1"}""", PartJson(token, 1));
    }

    private sealed record UserClaims(
        string Sub,
        string ClientId,
        [property: JsonPropertyName("https://example.com/tenantId")] string TenantId,
        string[] Roles);

    [Fact]
    public void Encode_Record_WritesSnakeCaseUnlessJsonPropertyNameGiven()
    {
        var claims = new UserClaims("u1", "c1", "t1", ["admin", "ops"]);

        string token = Jwt.Encode(claims, Secret32);

        Assert.Equal("""{"sub":"u1","client_id":"c1","https://example.com/tenantId":"t1","roles":["admin","ops"]}""", PartJson(token, 1));
    }

    [Fact]
    public void Encode_NonAsciiClaim_WritesUtf8NotEscapes()
    {
        string token = Jwt.Encode(new Dictionary<string, object> { ["name"] = "Zoë <admin>" }, Secret32);

        Assert.Equal("""{"name":"Zoë <admin>"}""", PartJson(token, 1));
    }

    // 2030-01-02T01:04:05.678Z: the milliseconds must be dropped, not rounded (NumericDate is whole seconds here, as in PyJWT).
    private static readonly DateTimeOffset Moment = new(2030, 1, 2, 3, 4, 5, 678, TimeSpan.FromHours(2));
    private const long MomentSeconds = 1893546245;

    [Fact]
    public void Encode_DateTimeOffsetClaims_BecomeNumericDateSeconds()
    {
        string token = Jwt.Encode(new { exp = Moment, iat = Moment, nbf = Moment }, Secret32);

        Assert.Equal(MomentSeconds, Moment.ToUnixTimeSeconds());
        Assert.Equal($$"""{"exp":{{MomentSeconds}},"iat":{{MomentSeconds}},"nbf":{{MomentSeconds}}}""", PartJson(token, 1));
    }

    [Fact]
    public void Encode_DateTimeUtcClaims_BecomeSameNumericDateSeconds()
    {
        DateTime utc = Moment.UtcDateTime;

        string token = Jwt.Encode(new Dictionary<string, object> { ["exp"] = utc, ["iat"] = utc, ["nbf"] = utc }, Secret32);

        Assert.Equal($$"""{"exp":{{MomentSeconds}},"iat":{{MomentSeconds}},"nbf":{{MomentSeconds}}}""", PartJson(token, 1));
    }

    [Fact]
    public void Encode_DateTimeUnspecifiedClaim_ThrowsArgumentExceptionSayingUseUtc()
    {
        var unspecified = new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Unspecified);

        var e = Assert.Throws<ArgumentException>(() => Jwt.Encode(new { sub = "u1", exp = unspecified }, Secret32));

        Assert.Contains("Unspecified", e.Message, StringComparison.Ordinal);
        Assert.Contains("DateTime.UtcNow", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("just a string")]
    [InlineData(42)]
    [InlineData(true)]
    public void Encode_PayloadNotAnObject_ThrowsArgumentException(object payload)
    {
        var e = Assert.Throws<ArgumentException>(() => Jwt.Encode(payload, Secret32));

        Assert.Equal("payload", e.ParamName);
    }

    [Fact]
    public void Encode_PayloadArray_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => Jwt.Encode(new[] { "a", "b" }, Secret32));
    }

    [Fact]
    public void Encode_ExtraHeaders_WrittenAfterAlgAndTyp()
    {
        var headers = new Dictionary<string, object?> { ["kid"] = "k1" };

        string token = Jwt.Encode(SeedClaims(), Secret32, headers: headers);

        Assert.Equal("""{"alg":"HS256","typ":"JWT","kid":"k1"}""", PartJson(token, 0));
    }

    [Fact]
    public void Encode_TypHeaderGiven_ReplacesJwt()
    {
        var headers = new Dictionary<string, object?> { ["typ"] = "at+jwt" };

        string token = Jwt.Encode(SeedClaims(), Secret32, headers: headers);

        Assert.Equal("""{"alg":"HS256","typ":"at+jwt"}""", PartJson(token, 0));
    }

    [Fact]
    public void Encode_TypHeaderNull_OmitsTypAndStillDecodes()
    {
        // As PyJWT: headers={"typ": None} drops typ. It must never be written twice (RFC 7515 §4: names are unique).
        var headers = new Dictionary<string, object?> { ["typ"] = null };

        string token = Jwt.Encode(SeedClaims(), Secret32, headers: headers);

        Assert.Equal("""{"alg":"HS256"}""", PartJson(token, 0));
        Assert.Equal("user123", Jwt.Decode(token, Secret32, ["HS256"])["sub"]);
    }

    [Fact]
    public void Encode_AlgAsExtraHeader_ThrowsArgumentException()
    {
        var headers = new Dictionary<string, object?> { ["alg"] = "none" };

        Assert.Throws<ArgumentException>(() => Jwt.Encode(SeedClaims(), Secret32, headers: headers));
    }

    public static TheoryData<string> PublicKeyTexts() => new(
        Rsa2048.Value.ExportSubjectPublicKeyInfoPem(),
        P256.Value.ExportSubjectPublicKeyInfoPem(),
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host padded to be long enough for any HMAC algorithm at all");

    [Theory]
    [MemberData(nameof(PublicKeyTexts))]
    public void Encode_PublicKeyTextAsHmacSecret_ThrowsJwtKeyException(string secret)
    {
        var e = Assert.Throws<JwtKeyException>(() => Jwt.Encode(SeedClaims(), secret));

        Assert.Contains("PEM", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> EcAlgorithms() => new("ES256", "ES384", "ES512");

    [Theory]
    [MemberData(nameof(EcAlgorithms))]
    public async Task Encode_EcKeyOnMatchingCurve_VerifiesInJsonWebTokenHandler(string algorithm)
    {
        ECDsa key = algorithm switch { "ES256" => P256.Value, "ES384" => P384.Value, _ => P521.Value };

        string token = Jwt.Encode(new { sub = "u1", role = "admin" }, key, algorithm);

        Assert.Equal($$"""{"alg":"{{algorithm}}","typ":"JWT"}""", PartJson(token, 0));
        await AssertIdentityModelAccepts(token, new ECDsaSecurityKey(key), algorithm);
        using ECDsa other = ECDsa.Create(key.ExportParameters(false).Curve);
        await AssertIdentityModelRejects(token, new ECDsaSecurityKey(other), algorithm);
    }

    public static TheoryData<string> RsaAlgorithms() => new("RS256", "RS384", "RS512", "PS256", "PS384", "PS512");

    [Theory]
    [MemberData(nameof(RsaAlgorithms))]
    public async Task Encode_Rsa2048Key_VerifiesInJsonWebTokenHandler(string algorithm)
    {
        string token = Jwt.Encode(new { sub = "u1", role = "admin" }, Rsa2048.Value, algorithm);

        Assert.Equal($$"""{"alg":"{{algorithm}}","typ":"JWT"}""", PartJson(token, 0));
        await AssertIdentityModelAccepts(token, new RsaSecurityKey(Rsa2048.Value), algorithm);
        using RSA other = RSA.Create(2048);
        await AssertIdentityModelRejects(token, new RsaSecurityKey(other), algorithm);
    }

    [Fact]
    public void Encode_Rsa1024Key_ThrowsJwtKeyException()
    {
        using RSA small = RSA.Create(1024);

        var e = Assert.Throws<JwtKeyException>(() => Jwt.Encode(SeedClaims(), small, "RS256"));

        Assert.Contains("2048", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("P-256", "ES384")]
    [InlineData("P-256", "ES512")]
    [InlineData("P-384", "ES256")]
    [InlineData("P-521", "ES256")]
    [InlineData("P-521", "ES384")]
    public void Encode_EcKeyOnWrongCurveForAlgorithm_ThrowsJwtKeyException(string curve, string algorithm)
    {
        ECDsa key = curve switch { "P-256" => P256.Value, "P-384" => P384.Value, _ => P521.Value };

        Assert.Throws<JwtKeyException>(() => Jwt.Encode(SeedClaims(), key, algorithm));
    }

    [Fact]
    public void Encode_Secp256k1KeyWithES256_ThrowsJwtKeyException()
    {
        // Same size as P-256, but ES256 means P-256 only (RFC 7518 §3.4); secp256k1 is ES256K (RFC 8812).
        using ECDsa key = ECDsa.Create(ECCurve.CreateFromFriendlyName("secp256k1"));

        Assert.Throws<JwtKeyException>(() => Jwt.Encode(SeedClaims(), key, "ES256"));
    }

    [Theory]
    [InlineData("RS256")]
    [InlineData("HS256")]
    public void Encode_EcKeyWithNonEcAlgorithm_ThrowsJwtKeyException(string algorithm)
    {
        Assert.Throws<JwtKeyException>(() => Jwt.Encode(SeedClaims(), P256.Value, algorithm));
    }

    [Theory]
    [InlineData("none")]
    [InlineData("HS1")]
    [InlineData("hs256")]
    public void Encode_UnknownAlgorithm_ThrowsJwtAlgorithmNotAllowedException(string algorithm)
    {
        Assert.Throws<JwtAlgorithmNotAllowedException>(() => Jwt.Encode(SeedClaims(), Secret32, algorithm));
    }

    private static async Task AssertIdentityModelAccepts(string token, SecurityKey key, string algorithm)
    {
        TokenValidationResult result = await new JsonWebTokenHandler().ValidateTokenAsync(token, IdentityModelParameters(key, algorithm));

        Assert.True(result.IsValid, $"JsonWebTokenHandler refused the token: {result.Exception}");
        Assert.Equal("u1", result.Claims["sub"]);
        Assert.Equal("admin", result.Claims["role"]);
    }

    private static async Task AssertIdentityModelRejects(string token, SecurityKey key, string algorithm)
    {
        TokenValidationResult result = await new JsonWebTokenHandler().ValidateTokenAsync(token, IdentityModelParameters(key, algorithm));

        Assert.False(result.IsValid, "JsonWebTokenHandler accepted the token with the wrong key; the cross-check proves nothing.");
    }

    // Only the signature and format are cross-checked here: lifetime is Latchkey's own (tested with a fake clock).
    private static TokenValidationParameters IdentityModelParameters(SecurityKey key, string algorithm) => new()
    {
        IssuerSigningKey = key,
        ValidAlgorithms = [algorithm],
        ValidateIssuer = false,
        ValidateAudience = false,
        ValidateLifetime = false,
        RequireExpirationTime = false,
    };

    /// <summary>Part <paramref name="index"/> (0 header, 1 payload, 2 signature) of a compact JWS.</summary>
    private static string Part(string token, int index) => token.Split('.')[index];

    private static string PartJson(string token, int index) => Encoding.UTF8.GetString(Base64Url.DecodeFromChars(Part(token, index)));

    private static string ExpectedHmac(string token, byte[] secret, Func<byte[], byte[], byte[]> mac) =>
        Base64Url.EncodeToString(mac(secret, Encoding.ASCII.GetBytes(token[..token.LastIndexOf('.')])));
}

/// <summary>
/// A DateTime of kind Local must be converted to UTC. On a machine whose zone is UTC that conversion is a no-op,
/// so these tests switch the process's local zone to India (UTC+05:30, no DST) — alone, since the zone is process-wide.
/// </summary>
[Collection(LocalTimeZoneCollection.Name)]
public sealed class JwtEncodeLocalTimeTests
{
    private static readonly DateTimeOffset Moment = new(2030, 1, 2, 3, 4, 5, 678, TimeSpan.FromHours(2));
    private const long MomentSeconds = 1893546245;

    [Fact]
    public void Encode_DateTimeLocalClaims_BecomeSameNumericDateSecondsAsUtc()
    {
        string? previous = Environment.GetEnvironmentVariable("TZ");
        try
        {
            Environment.SetEnvironmentVariable("TZ", "Asia/Kolkata");
            TimeZoneInfo.ClearCachedData();
            Assert.Equal(TimeSpan.FromMinutes(330), TimeZoneInfo.Local.GetUtcOffset(Moment));
            DateTime local = Moment.LocalDateTime;
            Assert.Equal(DateTimeKind.Local, local.Kind);
            Assert.Equal(new DateTime(2030, 1, 2, 6, 34, 5, 678), DateTime.SpecifyKind(local, DateTimeKind.Unspecified));

            string token = Jwt.Encode(new Dictionary<string, object> { ["exp"] = local, ["iat"] = local, ["nbf"] = local },
                "0123456789abcdef0123456789abcdef");

            string payload = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token.Split('.')[1]));
            Assert.Equal($$"""{"exp":{{MomentSeconds}},"iat":{{MomentSeconds}},"nbf":{{MomentSeconds}}}""", payload);
        }
        finally
        {
            Environment.SetEnvironmentVariable("TZ", previous);
            TimeZoneInfo.ClearCachedData();
        }
    }
}

/// <summary>Tests that change process-wide state (the local time zone) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LocalTimeZoneCollection
{
    public const string Name = "Local time zone";
}
