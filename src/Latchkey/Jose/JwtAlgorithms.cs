namespace Latchkey;

/// <summary>JWS algorithm names (RFC 7518 §3.1, RFC 8037 §3.1).</summary>
public static class JwtAlgorithms
{
    public const string HS256 = "HS256";
    public const string HS384 = "HS384";
    public const string HS512 = "HS512";
    public const string RS256 = "RS256";
    public const string RS384 = "RS384";
    public const string RS512 = "RS512";
    public const string PS256 = "PS256";
    public const string PS384 = "PS384";
    public const string PS512 = "PS512";
    public const string ES256 = "ES256";
    public const string ES384 = "ES384";
    public const string ES512 = "ES512";

    /// <summary>EdDSA with Ed25519 (RFC 8037). The only EdDSA curve Latchkey accepts.</summary>
    public const string EdDSA = "EdDSA";

    /// <summary>Every algorithm Latchkey signs and verifies today.</summary>
    public static IReadOnlyList<string> Supported { get; } =
        [HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA];

    internal static bool IsHmac(string alg) => alg is HS256 or HS384 or HS512;

    internal static bool IsSupported(string alg) => Supported.Contains(alg, StringComparer.Ordinal);
}
