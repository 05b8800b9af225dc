using System.Text.Json;

namespace Latchkey.Jose;

/// <summary>The registered-claim checks of RFC 7519 §4.1, shared by <see cref="Jwt.Decode(string, string, IEnumerable{string}, JwtDecodeOptions?)"/> and the server.</summary>
internal static class JwtClaimsValidator
{
    /// <summary>The "exp" test (RFC 7519 §4.1.4) with <paramref name="leeway"/>; also what a remembered token is held to.</summary>
    public static bool IsExpired(double exp, TimeProvider time, TimeSpan leeway) =>
        time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0 - leeway.TotalSeconds >= exp;

    public static void Validate(JsonElement claims, JwtDecodeOptions options)
    {
        foreach (string required in options.RequiredClaims)
        {
            if (!claims.TryGetProperty(required, out _))
                throw new JwtMissingClaimException(required);
        }

        double now = options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        double leeway = options.Leeway.TotalSeconds;

        if (claims.TryGetProperty("exp", out JsonElement exp) && IsExpired(exp.GetDouble(), options.TimeProvider, options.Leeway))
            throw new JwtExpiredException(ToDate(exp.GetDouble()));
        if (claims.TryGetProperty("nbf", out JsonElement nbf) && now + leeway < nbf.GetDouble())
            throw new JwtNotYetValidException("nbf", ToDate(nbf.GetDouble()));
        if (claims.TryGetProperty("iat", out JsonElement iat) && now + leeway < iat.GetDouble())
            throw new JwtNotYetValidException("iat", ToDate(iat.GetDouble()));

        if (options.Issuer is not null &&
            !(claims.TryGetProperty("iss", out JsonElement iss) && iss.ValueKind == JsonValueKind.String && iss.ValueEquals(options.Issuer)))
            throw new JwtInvalidIssuerException();

        bool hasAudience = claims.TryGetProperty("aud", out JsonElement aud);
        if (options.IgnoreAudience)
            return;
        if (options.Audience is null ? hasAudience : !(hasAudience && AudienceContains(aud, options.Audience)))
            throw new JwtInvalidAudienceException();
    }

    internal static bool AudienceContains(JsonElement aud, string expected)
    {
        if (aud.ValueKind == JsonValueKind.String)
            return aud.ValueEquals(expected);
        if (aud.ValueKind != JsonValueKind.Array)
            return false;
        foreach (JsonElement item in aud.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String && item.ValueEquals(expected))
                return true;
        }

        return false;
    }

    private static DateTimeOffset ToDate(double seconds) =>
        seconds is > -62135596800 and < 253402300799
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000))
            : seconds < 0 ? DateTimeOffset.MinValue : DateTimeOffset.MaxValue;
}
