namespace Latchkey;

/// <summary>
/// The one-call JWT API, shaped like PyJWT's <c>jwt.encode</c> / <c>jwt.decode</c>:
/// <code>
/// string token = Jwt.Encode(new { sub = "user123", role = "admin", exp = DateTimeOffset.UtcNow.AddMinutes(30) }, secret);
/// IReadOnlyDictionary&lt;string, object?&gt; claims = Jwt.Decode(token, secret, algorithms: ["HS256"]);
/// </code>
/// Safe by default: HMAC secrets shorter than the hash are refused (RFC 7518 §3.2), <c>alg: none</c> is never
/// accepted, the accepted algorithms must be named, and every failure is a specific <see cref="JwtException"/>.
/// </summary>
public static partial class Jwt
{
    /// <summary>HS256, the default algorithm of <see cref="Encode(object, string, string, IReadOnlyDictionary{string, object?}?, bool)"/>, as in PyJWT.</summary>
    public const string DefaultAlgorithm = JwtAlgorithms.HS256;

    /// <summary>Why <c>Encode</c> is not for Native AOT or trimmed apps: it serializes any payload object by reflection.</summary>
    internal const string EncodeUsesReflection = Jose.JwtPayloadJson.UsesReflection;
}
