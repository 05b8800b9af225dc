namespace Latchkey;

/// <summary>What <see cref="Jwt.Decode(string, string, IEnumerable{string}, JwtDecodeOptions?)"/> checks beyond the signature.</summary>
public sealed record JwtDecodeOptions
{
    /// <summary>
    /// Clock skew tolerated on <c>exp</c>, <c>nbf</c> and <c>iat</c>. Larger values keep stolen tokens alive longer;
    /// RFC 7519 §4.1.4 suggests "no more than a few minutes".
    /// </summary>
    public TimeSpan Leeway { get; init; } = Jose.JwsVerifier.Leeway;

    /// <summary>When set, <c>iss</c> must equal it exactly.</summary>
    public string? Issuer { get; init; }

    /// <summary>
    /// When set, <c>aud</c> (a string or an array) must contain it. When not set, a token that has an <c>aud</c>
    /// is refused, as PyJWT does: a token meant for another API must not be accepted by accident.
    /// </summary>
    public string? Audience { get; init; }

    /// <summary>Skip the audience check entirely (Latchkey's introspection, which answers for every audience it issues).</summary>
    internal bool IgnoreAudience { get; init; }

    /// <summary>Claims that must be present, for example <c>["exp", "sub"]</c>.</summary>
    public IReadOnlyCollection<string> RequiredClaims { get; init; } = [];

    /// <summary>Accept an HMAC secret shorter than the hash. Unsafe; see <see cref="Jwt.Encode(object, string, string, IReadOnlyDictionary{string, object?}?, bool)"/>.</summary>
    public bool AllowShortHmacKey { get; init; }

    /// <summary>Tokens longer than this many characters are refused before parsing.</summary>
    public int MaxTokenLength { get; init; } = 8 * 1024;

    /// <summary>The clock. Tests pass a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
