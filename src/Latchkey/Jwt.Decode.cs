using System.Security.Cryptography;
using System.Text.Json;
using Latchkey.Jose;

namespace Latchkey;

public static partial class Jwt
{
    /// <summary>Verifies an HMAC-signed token and returns its claims.</summary>
    /// <param name="token">The compact JWT.</param>
    /// <param name="key">The shared secret, as UTF-8 text.</param>
    /// <param name="algorithms">The algorithms you accept. Required, as in PyJWT: never let the token choose.</param>
    /// <param name="options">Leeway, issuer, audience and required claims.</param>
    /// <returns>The claims: strings, <see cref="long"/> or <see cref="double"/> numbers, booleans, arrays (<c>object?[]</c>) and nested dictionaries.</returns>
    /// <exception cref="JwtMalformedException">Not a well-formed JWT.</exception>
    /// <exception cref="JwtAlgorithmNotAllowedException">Its <c>alg</c> is not in <paramref name="algorithms"/>, or is <c>none</c>.</exception>
    /// <exception cref="JwtInvalidSignatureException">The signature does not verify.</exception>
    /// <exception cref="JwtExpiredException">It has expired.</exception>
    /// <exception cref="JwtNotYetValidException">Its <c>nbf</c> or <c>iat</c> is in the future.</exception>
    public static IReadOnlyDictionary<string, object?> Decode(string token, string key, IEnumerable<string> algorithms, JwtDecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        options ??= new JwtDecodeOptions();
        return Decode(token, HmacJwsKey.FromString(key, options.AllowShortHmacKey), algorithms, options);
    }

    /// <summary>Verifies an HMAC-signed token with a secret given as bytes.</summary>
    public static IReadOnlyDictionary<string, object?> Decode(string token, byte[] key, IEnumerable<string> algorithms, JwtDecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        options ??= new JwtDecodeOptions();
        return Decode(token, new HmacJwsKey(key, options.AllowShortHmacKey), algorithms, options);
    }

    /// <summary>Verifies an ES256/384/512 token with an EC public (or private) key.</summary>
    public static IReadOnlyDictionary<string, object?> Decode(string token, ECDsa key, IEnumerable<string> algorithms, JwtDecodeOptions? options = null) =>
        Decode(token, new EcdsaJwsKey(key), algorithms, options ?? new JwtDecodeOptions());

    /// <summary>Verifies an RS*/PS* token with an RSA public (or private) key.</summary>
    public static IReadOnlyDictionary<string, object?> Decode(string token, RSA key, IEnumerable<string> algorithms, JwtDecodeOptions? options = null) =>
        Decode(token, new RsaJwsKey(key), algorithms, options ?? new JwtDecodeOptions());

    /// <summary>Verifies an EdDSA (Ed25519) token with its public key.</summary>
    public static IReadOnlyDictionary<string, object?> Decode(string token, NSec.Cryptography.PublicKey key, IEnumerable<string> algorithms, JwtDecodeOptions? options = null) =>
        Decode(token, new EdDsaJwsKey(key), algorithms, options ?? new JwtDecodeOptions());

    internal static IReadOnlyDictionary<string, object?> Decode(string token, JwsKey key, IEnumerable<string> algorithms, JwtDecodeOptions options)
    {
        using ParsedJws jws = JwsVerifier.ReadAndVerify(token, _ => key, algorithms, options, rejectEmbeddedKeys: false);
        return ToDictionary(jws.Claims);
    }

    internal static Dictionary<string, object?> ToDictionary(JsonElement obj)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (JsonProperty p in obj.EnumerateObject())
            result[p.Name] = ToValue(p.Value);
        return result;
    }

    private static object? ToValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        // The cast matters: without it the conditional's type is double, and every integer (2^53 + 1 included) comes back as a double.
        JsonValueKind.Number => value.TryGetInt64(out long l) ? (object)l : value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => value.EnumerateArray().Select(ToValue).ToArray(),
        JsonValueKind.Object => ToDictionary(value),
        _ => null,
    };
}
