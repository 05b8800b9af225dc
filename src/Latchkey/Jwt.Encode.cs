using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using Latchkey.Jose;

namespace Latchkey;

public static partial class Jwt
{
    /// <summary>Signs <paramref name="payload"/> with an HMAC secret (HS256 unless <paramref name="algorithm"/> says otherwise).</summary>
    /// <param name="payload">A dictionary, anonymous object or record. Dates become NumericDate seconds in UTC.</param>
    /// <param name="key">The shared secret, as UTF-8 text.</param>
    /// <param name="algorithm">HS256, HS384 or HS512.</param>
    /// <param name="headers">Extra header members, written after <c>alg</c> and <c>typ</c>.</param>
    /// <param name="allowShortHmacKey">
    /// Accept a secret shorter than the hash (RFC 7518 §3.2 forbids it). Such a secret can be guessed offline
    /// from a single token; only use this to reproduce tutorials or talk to legacy systems.
    /// </param>
    /// <exception cref="JwtKeyException">The secret is too short, empty, or looks like a public key.</exception>
    /// <exception cref="ArgumentException">The payload is not an object, or holds a <see cref="DateTime"/> of unspecified kind.</exception>
    [RequiresUnreferencedCode(EncodeUsesReflection)]
    [RequiresDynamicCode(EncodeUsesReflection)]
    public static string Encode(object payload, string key, string algorithm = DefaultAlgorithm,
        IReadOnlyDictionary<string, object?>? headers = null, bool allowShortHmacKey = false)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Encode(payload, HmacJwsKey.FromString(key, allowShortHmacKey), algorithm, headers);
    }

    /// <summary>Signs <paramref name="payload"/> with an HMAC secret given as bytes.</summary>
    [RequiresUnreferencedCode(EncodeUsesReflection)]
    [RequiresDynamicCode(EncodeUsesReflection)]
    public static string Encode(object payload, byte[] key, string algorithm = DefaultAlgorithm,
        IReadOnlyDictionary<string, object?>? headers = null, bool allowShortHmacKey = false)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Encode(payload, new HmacJwsKey(key, allowShortHmacKey), algorithm, headers);
    }

    /// <summary>Signs <paramref name="payload"/> with an EC private key (ES256 on P-256, ES384 on P-384, ES512 on P-521).</summary>
    [RequiresUnreferencedCode(EncodeUsesReflection)]
    [RequiresDynamicCode(EncodeUsesReflection)]
    public static string Encode(object payload, ECDsa key, string algorithm, IReadOnlyDictionary<string, object?>? headers = null) =>
        Encode(payload, new EcdsaJwsKey(key), algorithm, headers);

    /// <summary>Signs <paramref name="payload"/> with an RSA private key of at least 2048 bits (RS* or PS*).</summary>
    [RequiresUnreferencedCode(EncodeUsesReflection)]
    [RequiresDynamicCode(EncodeUsesReflection)]
    public static string Encode(object payload, RSA key, string algorithm, IReadOnlyDictionary<string, object?>? headers = null) =>
        Encode(payload, new RsaJwsKey(key), algorithm, headers);

    /// <summary>Signs <paramref name="payload"/> with an Ed25519 private key (EdDSA, RFC 8037), e.g. from <c>Key.Create(SignatureAlgorithm.Ed25519)</c>.</summary>
    [RequiresUnreferencedCode(EncodeUsesReflection)]
    [RequiresDynamicCode(EncodeUsesReflection)]
    public static string Encode(object payload, NSec.Cryptography.Key key, string algorithm = JwtAlgorithms.EdDSA, IReadOnlyDictionary<string, object?>? headers = null) =>
        Encode(payload, new EdDsaJwsKey(key), algorithm, headers);

    [RequiresUnreferencedCode(EncodeUsesReflection)]
    [RequiresDynamicCode(EncodeUsesReflection)]
    internal static string Encode(object payload, JwsKey key, string algorithm, IReadOnlyDictionary<string, object?>? headers)
    {
        EnsureUsable(key, algorithm);
        string? type = "JWT";
        List<KeyValuePair<string, object?>>? extra = null;
        if (headers is not null)
        {
            foreach ((string name, object? value) in headers)
            {
                if (name == "alg")
                    throw new ArgumentException("Pass the algorithm as the algorithm argument, not as a header.", nameof(headers));
                if (name == "typ")
                    // Null drops typ, as in PyJWT; anything else but a string is a caller bug. Either way typ is
                    // written once: a second 'typ' member would make a header our own reader refuses.
                    type = value is null or string ? (string?)value : throw new ArgumentException("The 'typ' header must be a string or null.", nameof(headers));
                else
                    (extra ??= []).Add(new(name, value));
            }
        }

        byte[] header = JwsWriter.Header(algorithm, type, keyId: null, extra is null ? null : writer => JwtPayloadJson.WriteMembers(writer, extra));
        byte[] claims = JwtPayloadJson.Serialize(payload);
        try
        {
            return JwsWriter.Write(header, claims, key, algorithm);
        }
        catch (CryptographicException e)
        {
            throw new JwtKeyException($"The key cannot sign ({e.Message}). Signing needs the private key, not only the public one.");
        }
    }

    private static void EnsureUsable(JwsKey key, string algorithm)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        if (!JwtAlgorithms.IsSupported(algorithm))
            throw new JwtAlgorithmNotAllowedException(algorithm);
        if (!key.Supports(algorithm))
            throw new JwtKeyException($"This {KeyKind(key)} key cannot be used with {algorithm}.");
        if (key is HmacJwsKey hmac)
            hmac.EnsureLongEnough(algorithm);
    }

    private static string KeyKind(JwsKey key) => key switch
    {
        HmacJwsKey => "HMAC",
        EcdsaJwsKey => "EC",
        EdDsaJwsKey => "Ed25519",
        RsaJwsKey => "RSA",
        _ => key.GetType().Name,
    };

    internal static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
