namespace Latchkey.Protocol;

/// <summary>
/// An OAuth error as a value (RFC 6749 §5.2). <see cref="Description"/> is generic and safe to show to anyone;
/// <see cref="Detail"/> says what really happened and only goes to the log.
/// </summary>
public sealed record OAuthError(string Code, string Description, int Status = StatusCodes.Status400BadRequest)
{
    /// <summary>What went wrong, for the log only (never a secret).</summary>
    public string? Detail { get; init; }

    /// <summary>Sent as <c>Retry-After</c> (throttling).</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>RFC 6749 §5.2: a 401 <c>invalid_client</c> answer to Basic authentication carries a Basic challenge.</summary>
    public bool ChallengeBasic { get; init; }

    public static OAuthError InvalidRequest(string description, string? detail = null) =>
        new(OAuthErrors.InvalidRequest, description) { Detail = detail };

    /// <summary>
    /// The same answer for a wrong password, an unknown user and a disabled user, so the response never
    /// tells an attacker which accounts exist.
    /// </summary>
    public static OAuthError InvalidCredentials(string detail) =>
        new(OAuthErrors.InvalidGrant, "The username or password is incorrect.") { Detail = detail };

    /// <summary>More logins than the hashing capacity: refused at once, before any password is checked (RFC 6749 §5.2 JSON, 503).</summary>
    public static OAuthError Busy(TimeSpan retryAfter, string detail) =>
        new(OAuthErrors.TemporarilyUnavailable, "Too many logins right now. Try again shortly.", StatusCodes.Status503ServiceUnavailable)
        {
            RetryAfter = retryAfter,
            Detail = detail,
        };

    public static OAuthError Throttled(TimeSpan retryAfter, string detail) =>
        new(OAuthErrors.SlowDown, "Too many failed attempts. Try again later.", StatusCodes.Status429TooManyRequests)
        {
            RetryAfter = retryAfter,
            Detail = detail,
        };
}
