using Microsoft.Extensions.Logging;

namespace Latchkey;

/// <summary>
/// Every log line Latchkey writes, with stable event ids. None takes a password, secret or whole token:
/// tokens are identified by their <c>jti</c>, users by name.
/// </summary>
internal static partial class Log
{
    // 1xxx: token endpoint
    [LoggerMessage(1001, LogLevel.Information, "Token request refused: {Error} ({Status}): {Detail}")]
    public static partial void TokenRequestRefused(ILogger logger, string error, int status, string detail);

    // Debug, not Information: a busy node issues tens of thousands of tokens a second, and a console line each made the
    // logger's bounded queue the bottleneck (bench: client_credentials 1,872 → see the commit). Logins, refreshes and
    // revocations stay in the audit trail (5001); issued tokens are counted by the latchkey_tokens_issued metric.
    [LoggerMessage(1002, LogLevel.Debug, "Issued access token {Jti} to {Subject} via {GrantType}")]
    public static partial void TokenIssued(ILogger logger, string jti, string subject, string grantType);

    [LoggerMessage(1003, LogLevel.Warning, "Refresh token reuse: family {FamilyId} of {Username} (client {ClientId}) revoked")]
    public static partial void RefreshTokenReuse(ILogger logger, string familyId, string username, string clientId);

    [LoggerMessage(1004, LogLevel.Information, "Revoked {What} for client {ClientId}")]
    public static partial void TokenRevoked(ILogger logger, string what, string clientId);

    // 2xxx: logins
    [LoggerMessage(2001, LogLevel.Warning, "Login failed for {Username} from {Address}: {Reason}")]
    public static partial void LoginFailed(ILogger logger, string username, string address, string reason);

    [LoggerMessage(2002, LogLevel.Warning, "Login throttled for {Username} from {Address}; retry after {RetryAfter}")]
    public static partial void LoginThrottled(ILogger logger, string username, string address, TimeSpan retryAfter);

    [LoggerMessage(2003, LogLevel.Information, "Upgraded the password hash of {Username} to the current parameters")]
    public static partial void PasswordHashUpgraded(ILogger logger, string username);

    // 3xxx: bearer tokens
    [LoggerMessage(3001, LogLevel.Information, "Bearer token refused: {Failure}: {Reason}")]
    public static partial void BearerTokenRefused(ILogger logger, JwtFailure failure, string reason);

    // 4xxx: keys and start-up
    [LoggerMessage(4001, LogLevel.Information, "Generated signing key {Kid} ({Algorithm})")]
    public static partial void SigningKeyGenerated(ILogger logger, string kid, string algorithm);

    [LoggerMessage(4002, LogLevel.Information, "Created a new master key at {Path}; back it up apart from the database")]
    public static partial void MasterKeyCreated(ILogger logger, string path);

    [LoggerMessage(4004, LogLevel.Information, "Rotated signing keys: {Kid} ({Algorithm}) is published and signs from {ActivatesAt:O}")]
    public static partial void SigningKeyRotated(ILogger logger, string kid, string algorithm, DateTimeOffset activatesAt);

    [LoggerMessage(4005, LogLevel.Error, "Signing-key maintenance failed; keeping the current keys")]
    public static partial void KeyMaintenanceFailed(ILogger logger, Exception exception);

    [LoggerMessage(4006, LogLevel.Warning, "Could not re-read the revoked access tokens; keeping the list from the last sync")]
    public static partial void RevocationSyncFailed(ILogger logger, Exception exception);

    [LoggerMessage(4007, LogLevel.Warning, "Could not clear expired sealed refresh-token successors; the next rotation after the sweep interval tries again")]
    public static partial void SealSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(6001, LogLevel.Warning, "The {Provider} database is unavailable; answered {Path} with 503")]
    public static partial void DatabaseUnavailable(ILogger logger, string provider, string path, Exception exception);

    [LoggerMessage(6002, LogLevel.Warning, "Could not copy the SQLite write-ahead log into the database file; trying again every 100 ms")]
    public static partial void CheckpointFailed(ILogger logger, Exception exception);

    [LoggerMessage(4003, LogLevel.Warning, "The issuer {Issuer} is plain HTTP on a non-loopback host; serve Latchkey behind TLS in production")]
    public static partial void PlainHttpIssuer(ILogger logger, string issuer);

    // 5xxx: audit
    [LoggerMessage(5001, LogLevel.Information, "Audit {AuditType} {Outcome}: actor {Actor}, subject {Subject}, client {ClientId}, address {Address}, detail {Detail}")]
    public static partial void AuditEvent(ILogger logger, string auditType, string outcome, string actor, string subject, string clientId, string address, string detail);

    [LoggerMessage(5002, LogLevel.Information, "Deleted {Count} audit events older than the retention of {Retention}")]
    public static partial void AuditEventsExpired(ILogger logger, int count, TimeSpan retention);

    // 7xxx: the HTTP edge (client addresses, rate limit)
    [LoggerMessage(7001, LogLevel.Information, "Client addresses: believing {Header} from {Proxies}, at most {Limit} entries from the right")]
    public static partial void TrustingForwardedHeader(ILogger logger, string header, string proxies, int limit);

    [LoggerMessage(7002, LogLevel.Debug, "Request rate limit: refused {Path} from {Address}; retry after {RetryAfter}")]
    public static partial void RequestRateLimited(ILogger logger, string path, string address, TimeSpan retryAfter);
}
