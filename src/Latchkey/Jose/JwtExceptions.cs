namespace Latchkey;

/// <summary>Why a token was refused. Logged by the server; the caller only sees a plain 401.</summary>
public enum JwtFailure
{
    Malformed,
    TooLarge,
    AlgorithmNotAllowed,
    UnsupportedHeader,
    UnknownKey,
    InvalidSignature,
    Expired,
    NotYetValid,
    InvalidIssuer,
    InvalidAudience,
    InvalidType,
    MissingClaim,
    InvalidKey,
    Revoked,
}

/// <summary>The base of every error <see cref="Jwt"/> raises; catch this to catch them all.</summary>
public class JwtException(JwtFailure failure, string message) : Exception(message)
{
    public JwtFailure Failure { get; } = failure;

    /// <summary>
    /// A value taken from a token, made safe to put in a message that is logged: at most 40 characters, control
    /// characters replaced, so a crafted header cannot forge log lines or flood the log.
    /// </summary>
    internal static string Printable(string? value)
    {
        if (value is null)
            return "(none)";
        string shown = value.Length > 40 ? value[..40] + "…" : value;
        return string.Create(shown.Length, shown, static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
        });
    }
}

/// <summary>The token is not a well-formed compact JWS with JSON header and claims.</summary>
public sealed class JwtMalformedException(string message) : JwtException(JwtFailure.Malformed, message);

/// <summary>The signature does not verify with the given key.</summary>
public sealed class JwtInvalidSignatureException() : JwtException(JwtFailure.InvalidSignature, "The token's signature is invalid.");

/// <summary>The token's <c>alg</c> is not one the caller accepts (or is <c>none</c>, which is never accepted).</summary>
public sealed class JwtAlgorithmNotAllowedException(string algorithm)
    : JwtException(JwtFailure.AlgorithmNotAllowed, $"The algorithm '{Printable(algorithm)}' is not allowed.")
{
    public string Algorithm { get; } = algorithm;
}

/// <summary>The <c>exp</c> claim is in the past (beyond the leeway).</summary>
public sealed class JwtExpiredException(DateTimeOffset expiredAt)
    : JwtException(JwtFailure.Expired, $"The token expired at {expiredAt:O}.")
{
    public DateTimeOffset ExpiredAt { get; } = expiredAt;
}

/// <summary>The <c>nbf</c> or <c>iat</c> claim is in the future (beyond the leeway).</summary>
public sealed class JwtNotYetValidException(string claim, DateTimeOffset validFrom)
    : JwtException(JwtFailure.NotYetValid, $"The token is not valid before {validFrom:O} ('{claim}').");

/// <summary>The <c>iss</c> claim is missing or not the expected issuer.</summary>
public sealed class JwtInvalidIssuerException() : JwtException(JwtFailure.InvalidIssuer, "The token's issuer is not the expected one.");

/// <summary>The <c>aud</c> claim is missing or does not name the expected audience.</summary>
public sealed class JwtInvalidAudienceException() : JwtException(JwtFailure.InvalidAudience, "The token's audience is not the expected one.");

/// <summary>A claim the caller requires is missing.</summary>
public sealed class JwtMissingClaimException(string claim) : JwtException(JwtFailure.MissingClaim, $"The token has no '{claim}' claim.");

/// <summary>The key cannot be used: too short, wrong type for the algorithm, or not a key at all.</summary>
public sealed class JwtKeyException(string message) : JwtException(JwtFailure.InvalidKey, message);

/// <summary>The token uses a header Latchkey refuses (<c>crit</c>, <c>b64</c>, embedded keys, a bad <c>kid</c> or <c>typ</c>).</summary>
public sealed class JwtUnsupportedHeaderException(JwtFailure failure, string message) : JwtException(failure, message);
