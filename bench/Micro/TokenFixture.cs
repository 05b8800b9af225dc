using System.Buffers.Text;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Latchkey.Tokens;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Latchkey.Bench.Micro;

/// <summary>
/// One algorithm's setting for the benchmarks: Latchkey hosted as the server hosts it (AddLatchkey on a temporary data
/// folder, keys generated and loaded by its own start-up), a token made by its issuer, and the same token's bytes and
/// public key for the other validators. The other signers (raw, IdentityModel, Jwt.Encode) use a key of their own of
/// the same algorithm and size, generated here: signing costs the same with any key of one kind.
/// </summary>
internal sealed class TokenFixture : IDisposable
{
    public const string Issuer = "http://127.0.0.1:5000";
    public const string Audience = "api";

    /// <summary>40 bytes: above HS256's 32-byte minimum (RFC 7518 §3.2). For benchmarks only.</summary>
    private const string HmacSecret = "bench-only-hmac-secret-0123456789abcdefg";

    /// <summary>A client_credentials token's subject, as ClientCredentialsGrant builds it.</summary>
    public static readonly AccessTokenSubject Subject = new("bench", Username: null, Roles: [], Scope: null, ClientId: "bench", Audience: Audience);

    private readonly IHost _host;
    private readonly string _dataDirectory;
    private readonly string _algorithm;
    private readonly object _ownKey;
    private readonly object _latchkeyPublicKey;
    private readonly SigningCredentials? _credentials;
    private readonly JwtDecodeOptions _decodeOptions = new() { Issuer = Issuer, Audience = Audience, RequiredClaims = ["exp", "iat", "sub", "jti"] };

    private TokenFixture(string algorithm, IHost host, string dataDirectory)
    {
        _algorithm = algorithm;
        _host = host;
        _dataDirectory = dataDirectory;

        // Latchkey's issuer and validator are internal: bound once through reflection to plain delegates, so that a call
        // costs what the server's does. (InternalsVisibleTo for this assembly in src/Latchkey would make this direct.)
        Assembly core = typeof(LatchkeyOptions).Assembly;
        object issuer = Service(core, "Latchkey.Tokens.AccessTokenIssuer");
        Issue = issuer.GetType().GetMethod("Issue")!.CreateDelegate<Func<AccessTokenSubject, IssuedAccessToken>>(issuer);
        object validator = Service(core, "Latchkey.Tokens.AccessTokenValidator");
        VerifyOffline = validator.GetType().GetMethod("VerifyOffline")!.CreateDelegate<Func<string, bool, JsonElement>>(validator);
        ValidateAsync = validator.GetType().GetMethod("ValidateAsync")!.CreateDelegate<Func<string, bool, CancellationToken, Task<JsonElement>>>(validator);
        object ring = Service(core, "Latchkey.Keys.SigningKeyRing");
        byte[] jwks = (byte[])ring.GetType().GetProperty("JwksJson")!.GetValue(ring)!;

        Token = Issue(Subject).Token;
        int lastDot = Token.LastIndexOf('.');
        SigningInput = Encoding.ASCII.GetBytes(Token[..lastDot]);
        Signature = Base64Url.DecodeFromChars(Token.AsSpan(lastDot + 1));
        using (JsonDocument header = JsonDocument.Parse(Base64Url.DecodeFromChars(Token.AsSpan(0, Token.IndexOf('.')))))
            KeyId = header.RootElement.GetProperty("kid").GetString()!;

        byte[] secret = Encoding.UTF8.GetBytes(HmacSecret);
        _latchkeyPublicKey = algorithm == "HS256" ? secret : PublicKeyFromJwks(jwks);
        _ownKey = algorithm switch
        {
            "HS256" => secret,
            "ES256" => ECDsa.Create(ECCurve.NamedCurves.nistP256),
            "RS256" => RSA.Create(2048),
            "EdDSA" => NSec.Cryptography.Key.Create(NSec.Cryptography.SignatureAlgorithm.Ed25519),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "HS256, ES256, EdDSA or RS256"),
        };
        Raw = RawPrimitive.For(algorithm, _ownKey, _latchkeyPublicKey);
        if (!Raw.Verify(SigningInput, Signature))
            throw new InvalidOperationException($"{algorithm}: the raw primitive does not verify Latchkey's token.");

        Handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        if (algorithm != "EdDSA")
        {
            _credentials = new SigningCredentials(SecurityKey(_ownKey), algorithm);
            ValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = Issuer,
                ValidAudience = Audience,
                IssuerSigningKey = SecurityKey(_latchkeyPublicKey),
                ValidAlgorithms = [algorithm],
                ValidTypes = ["at+jwt"],
                ClockSkew = TimeSpan.FromSeconds(30),
            };
            TokenValidationResult result = Handler.ValidateTokenAsync(Token, ValidationParameters).GetAwaiter().GetResult();
            if (!result.IsValid)
                throw new InvalidOperationException($"{algorithm}: JsonWebTokenHandler refuses Latchkey's token: {result.Exception?.Message}");
        }

        VerifyOffline(Token, false);
        JwtDecode();
    }

    public Func<AccessTokenSubject, IssuedAccessToken> Issue { get; }
    public Func<string, bool, JsonElement> VerifyOffline { get; }
    public Func<string, bool, CancellationToken, Task<JsonElement>> ValidateAsync { get; }

    /// <summary>A token from Latchkey's issuer, and its parts.</summary>
    public string Token { get; }
    public string KeyId { get; }
    public byte[] SigningInput { get; }
    public byte[] Signature { get; }
    public byte[] SignatureBuffer { get; } = new byte[512];

    public RawPrimitive Raw { get; }
    public JsonWebTokenHandler Handler { get; }
    public TokenValidationParameters ValidationParameters { get; } = new();

    public static TokenFixture Create(string algorithm)
    {
        string dataDirectory = Directory.CreateTempSubdirectory("latchkey-micro-").FullName;
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLogging();
        builder.Services.AddLatchkey(configure: o =>
        {
            o.Issuer = Issuer;
            o.Audience = Audience;
            o.DataDirectory = dataDirectory;
            o.SigningAlgorithm = algorithm;
            if (algorithm == "HS256")
                o.HmacSecret = HmacSecret;
        });
        IHost host = builder.Build();
        host.StartAsync().GetAwaiter().GetResult();
        return new TokenFixture(algorithm, host, dataDirectory);
    }

    /// <summary>The same claims and header as <see cref="Subject"/>'s token from Latchkey's issuer.</summary>
    public SecurityTokenDescriptor Descriptor()
    {
        DateTime now = DateTime.UtcNow;
        return new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            IssuedAt = now,
            Expires = now.AddMinutes(30),
            TokenType = "at+jwt",
            Claims = new Dictionary<string, object>
            {
                ["sub"] = Subject.Subject,
                ["jti"] = NewJwtId(),
                ["client_id"] = Subject.ClientId,
                ["role"] = Array.Empty<string>(),
            },
            SigningCredentials = _credentials,
        };
    }

    public string JwtEncode()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var payload = new Dictionary<string, object>
        {
            ["iss"] = Issuer,
            ["sub"] = Subject.Subject,
            ["aud"] = Audience,
            ["exp"] = now.AddMinutes(30),
            ["iat"] = now,
            ["jti"] = NewJwtId(),
            ["client_id"] = Subject.ClientId,
            ["role"] = Array.Empty<string>(),
        };
        var headers = new Dictionary<string, object?> { ["typ"] = "at+jwt", ["kid"] = KeyId };
        return _ownKey switch
        {
            byte[] secret => Jwt.Encode(payload, secret, _algorithm, headers),
            ECDsa ec => Jwt.Encode(payload, ec, _algorithm, headers),
            RSA rsa => Jwt.Encode(payload, rsa, _algorithm, headers),
            NSec.Cryptography.Key ed => Jwt.Encode(payload, ed, _algorithm, headers),
            _ => throw new InvalidOperationException(),
        };
    }

    public IReadOnlyDictionary<string, object?> JwtDecode() => _latchkeyPublicKey switch
    {
        byte[] secret => Jwt.Decode(Token, secret, [_algorithm], _decodeOptions),
        ECDsa ec => Jwt.Decode(Token, ec, [_algorithm], _decodeOptions),
        RSA rsa => Jwt.Decode(Token, rsa, [_algorithm], _decodeOptions),
        NSec.Cryptography.PublicKey ed => Jwt.Decode(Token, ed, [_algorithm], _decodeOptions),
        _ => throw new InvalidOperationException(),
    };

    private static string NewJwtId() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));

    private object Service(Assembly core, string typeName) =>
        _host.Services.GetService(core.GetType(typeName, throwOnError: true)!) ?? throw new InvalidOperationException($"{typeName} is not registered.");

    private SecurityKey SecurityKey(object key) => key switch
    {
        byte[] secret => new SymmetricSecurityKey(secret) { KeyId = KeyId },
        ECDsa ec => new ECDsaSecurityKey(ec) { KeyId = KeyId },
        RSA rsa => new RsaSecurityKey(rsa) { KeyId = KeyId },
        _ => throw new ArgumentOutOfRangeException(nameof(key)),
    };

    /// <summary>The public key of Latchkey's signing key, from its JWKS.</summary>
    private static object PublicKeyFromJwks(byte[] jwks)
    {
        using JsonDocument document = JsonDocument.Parse(jwks);
        JsonElement jwk = document.RootElement.GetProperty("keys")[0];
        byte[] Member(string name) => Base64Url.DecodeFromChars(jwk.GetProperty(name).GetString());
        return jwk.GetProperty("kty").GetString() switch
        {
            "EC" => ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = Member("x"), Y = Member("y") } }),
            "RSA" => RsaPublic(Member("n"), Member("e")),
            "OKP" => NSec.Cryptography.PublicKey.Import(NSec.Cryptography.SignatureAlgorithm.Ed25519, Member("x"), NSec.Cryptography.KeyBlobFormat.RawPublicKey),
            var kty => throw new InvalidOperationException($"Unexpected JWK kty {kty}."),
        };
    }

    private static RSA RsaPublic(byte[] modulus, byte[] exponent)
    {
        var rsa = RSA.Create();
        rsa.ImportParameters(new RSAParameters { Modulus = modulus, Exponent = exponent });
        return rsa;
    }

    public void Dispose()
    {
        _host.StopAsync().GetAwaiter().GetResult();
        _host.Dispose();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A temporary folder; the system cleans it eventually.
        }
    }
}

/// <summary>One primitive: sign with a private key, verify with Latchkey's public key (or the shared secret).</summary>
internal abstract class RawPrimitive
{
    public abstract int Sign(ReadOnlySpan<byte> input, Span<byte> signature);

    public abstract bool Verify(ReadOnlySpan<byte> input, ReadOnlySpan<byte> signature);

    public static RawPrimitive For(string algorithm, object privateKey, object publicKey) => algorithm switch
    {
        "HS256" => new Hmac((byte[])privateKey),
        "ES256" => new Ecdsa((ECDsa)privateKey, (ECDsa)publicKey),
        "RS256" => new Rsa((RSA)privateKey, (RSA)publicKey),
        "EdDSA" => new Ed25519((NSec.Cryptography.Key)privateKey, (NSec.Cryptography.PublicKey)publicKey),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    private sealed class Hmac(byte[] secret) : RawPrimitive
    {
        public override int Sign(ReadOnlySpan<byte> input, Span<byte> signature) => HMACSHA256.HashData(secret, input, signature);

        public override bool Verify(ReadOnlySpan<byte> input, ReadOnlySpan<byte> signature)
        {
            Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
            HMACSHA256.HashData(secret, input, expected);
            return CryptographicOperations.FixedTimeEquals(expected, signature);
        }
    }

    private sealed class Ecdsa(ECDsa privateKey, ECDsa publicKey) : RawPrimitive
    {
        public override int Sign(ReadOnlySpan<byte> input, Span<byte> signature) =>
            privateKey.SignData(input, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        public override bool Verify(ReadOnlySpan<byte> input, ReadOnlySpan<byte> signature) =>
            publicKey.VerifyData(input, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    private sealed class Rsa(RSA privateKey, RSA publicKey) : RawPrimitive
    {
        public override int Sign(ReadOnlySpan<byte> input, Span<byte> signature) =>
            privateKey.SignData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

        public override bool Verify(ReadOnlySpan<byte> input, ReadOnlySpan<byte> signature) =>
            publicKey.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    private sealed class Ed25519(NSec.Cryptography.Key privateKey, NSec.Cryptography.PublicKey publicKey) : RawPrimitive
    {
        private static readonly NSec.Cryptography.SignatureAlgorithm Algorithm = NSec.Cryptography.SignatureAlgorithm.Ed25519;

        public override int Sign(ReadOnlySpan<byte> input, Span<byte> signature)
        {
            Algorithm.Sign(privateKey, input, signature[..Algorithm.SignatureSize]);
            return Algorithm.SignatureSize;
        }

        public override bool Verify(ReadOnlySpan<byte> input, ReadOnlySpan<byte> signature) => Algorithm.Verify(publicKey, input, signature);
    }
}
