using System.Text.Json;
using Latchkey.Jose;
using Latchkey.Keys;
using Latchkey.Protocol;
using Microsoft.Extensions.Options;

namespace Latchkey.Tokens;

/// <summary>
/// Validates access tokens presented to Latchkey's own endpoints, failing closed: the key comes only from our
/// ring by <c>kid</c> (never from the token), the algorithm must be that key's, <c>typ</c> must be
/// <c>at+jwt</c> (RFC 8725 §3.11, RFC 9068 §4), and <c>iss</c>, <c>aud</c>, <c>exp</c>, <c>iat</c>, <c>sub</c>,
/// <c>jti</c> must all be present and right.
/// </summary>
internal sealed class AccessTokenValidator(SigningKeyRing keys, Revocations revocations, IOptions<LatchkeyOptions> options, TimeProvider time)
    : IDisposable
{
    private readonly VerifiedAccessTokens _verified = new(options.Value.VerifiedTokenCacheSize, keys, time);

    /// <summary>The longest <c>kid</c> looked up. Ours are 43 (an RFC 7638 thumbprint) or 15 (<c>hs-</c> plus 12).</summary>
    public const int MaxKeyIdLength = 128;

    private static readonly string[] Required = ["exp", "iat", "sub", "jti"];

    /// <summary>
    /// Returns the token's claims, or throws a <see cref="JwtException"/> saying why not. A token Latchkey has taken back
    /// fails too: revoked itself, or its login, or issued before its user's or client's cut-off (on another node than the one
    /// that took it back: from this node's next sync, see <see cref="Revocations"/>). <paramref name="anyAudience"/> accepts
    /// the audiences of every client (introspection); otherwise Latchkey's own endpoints accept the configured
    /// <see cref="LatchkeyOptions.Audience"/> and Latchkey's own audience, its issuer (the admin tokens).
    /// </summary>
    public JsonElement Validate(string token, bool anyAudience)
    {
        JsonElement claims = VerifyOffline(token, anyAudience);
        if (revocations.Refusal(claims) is { } why)
            throw new JwtException(JwtFailure.Revoked, $"The token was taken back: {why}.");
        return claims;
    }

    /// <summary>Signature, header and claims, without asking the deny list.</summary>
    public JsonElement VerifyOffline(string token, bool anyAudience)
    {
        // Bearer checks (our audience) reuse an earlier full verification of the same token; introspection (any
        // audience) is rare and always checks in full.
        if (!anyAudience && _verified.TryGet(token, out JsonElement remembered))
            return remembered;

        var decodeOptions = new JwtDecodeOptions
        {
            Issuer = options.Value.Issuer,
            IgnoreAudience = true, // checked below: either of two audiences
            RequiredClaims = Required,
            Leeway = JwsVerifier.Leeway,
            TimeProvider = time,
        };

        using ParsedJws jws = JwsVerifier.ReadAndVerify(token, ResolveKey, JwtAlgorithms.Supported, decodeOptions, rejectEmbeddedKeys: true);
        JsonElement claims = jws.Claims.Clone();
        if (!anyAudience && !HasAudience(claims, options.Value.Audience) && !HasAudience(claims, options.Value.Issuer!))
            throw new JwtInvalidAudienceException();
        if (!anyAudience)
            _verified.Add(token, claims, jws.KeyId!);
        return claims;
    }

    public void Dispose() => _verified.Dispose();

    /// <summary>True when the token's <c>aud</c> (a string or an array, RFC 7519 §4.1.3) names <paramref name="audience"/>.</summary>
    public static bool HasAudience(JsonElement claims, string audience) =>
        claims.TryGetProperty(LatchkeyClaims.Audience, out JsonElement aud) && JwtClaimsValidator.AudienceContains(aud, audience);

    private JwsKey? ResolveKey(ParsedJws jws)
    {
        if (!string.Equals(jws.Type, AccessTokenIssuer.TokenType, StringComparison.OrdinalIgnoreCase) &&
            !string.Equals(jws.Type, "application/" + AccessTokenIssuer.TokenType, StringComparison.OrdinalIgnoreCase))
            throw new JwtUnsupportedHeaderException(JwtFailure.InvalidType, $"The token's typ is '{JwtException.Printable(jws.Type)}', not '{AccessTokenIssuer.TokenType}'.");

        // The kid is chosen by whoever made the token. Only the shape of the ids we issue (base64url) goes on to a
        // lookup, so "../../etc/passwd", "' OR 1=1 --" or a NUL never reach a dictionary, a query or a path.
        if (!IsWellFormedKeyId(jws.KeyId))
            throw new JwtUnsupportedHeaderException(JwtFailure.UnknownKey,
                $"The token's kid is missing or not a key id Latchkey issues (1 to {MaxKeyIdLength} base64url characters).");

        SigningKey? key = keys.Find(jws.KeyId);
        if (key is null)
            return null;
        // A key signs with exactly one algorithm; a token naming another is refused even if the signature would verify
        // (an HS256 token keyed with our public key, RFC 8725 §2.1). Named for what it is, not as an unknown kid.
        if (key.Algorithm != jws.Algorithm)
            throw new JwtException(JwtFailure.AlgorithmNotAllowed, $"The token's alg '{JwtException.Printable(jws.Algorithm)}' is not the algorithm of key {key.KeyId} ({key.Algorithm}).");
        return key.Key;
    }

    private static bool IsWellFormedKeyId(string? kid) =>
        kid is { Length: > 0 and <= MaxKeyIdLength } && kid.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
