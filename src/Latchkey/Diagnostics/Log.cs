using Microsoft.Extensions.Logging;

namespace Latchkey.Diagnostics;

/// <summary>
/// Every log line Latchkey writes, with stable event ids. None takes a password, secret or whole token:
/// tokens are identified by their <c>jti</c>, users by name.
/// An event with a string argument is a public method that passes every string through <see cref="LogText.Escape"/> to
/// its private <c>[LoggerMessage]</c> twin (<c>…Core</c>): many of them come from the request (a <c>client_id</c>, a
/// detail quoting one), a line break in one would forge a log entry, and escaping here means no call site can forget.
/// Add new events the same way.
/// </summary>
internal static partial class Log
{
    // 1xxx: token endpoint
    public static void TokenRequestRefused(ILogger logger, string error, int status, string detail) =>
        TokenRequestRefusedCore(logger, LogText.Escape(error), status, LogText.Escape(detail));

    [LoggerMessage(1001, LogLevel.Information, "Token request refused: {Error} ({Status}): {Detail}")]
    private static partial void TokenRequestRefusedCore(ILogger logger, string error, int status, string detail);

    // Debug, not Information: a busy node issues tens of thousands of tokens a second, and a console line each made the
    // logger's bounded queue the bottleneck (bench: client_credentials 1,872 → see the commit). Logins, refreshes and
    // revocations stay in the audit trail (5001); issued tokens are counted by the latchkey_tokens_issued metric.
    public static void TokenIssued(ILogger logger, string jti, string subject, string grantType) =>
        TokenIssuedCore(logger, LogText.Escape(jti), LogText.Escape(subject), LogText.Escape(grantType));

    [LoggerMessage(1002, LogLevel.Debug, "Issued access token {Jti} to {Subject} via {GrantType}")]
    private static partial void TokenIssuedCore(ILogger logger, string jti, string subject, string grantType);

    public static void RefreshTokenReuse(ILogger logger, string familyId, string username, string clientId) =>
        RefreshTokenReuseCore(logger, LogText.Escape(familyId), LogText.Escape(username), LogText.Escape(clientId));

    [LoggerMessage(1003, LogLevel.Warning, "Refresh token reuse: family {FamilyId} of {Username} (client {ClientId}) revoked")]
    private static partial void RefreshTokenReuseCore(ILogger logger, string familyId, string username, string clientId);

    public static void TokenRevoked(ILogger logger, string what, string clientId) =>
        TokenRevokedCore(logger, LogText.Escape(what), LogText.Escape(clientId));

    [LoggerMessage(1004, LogLevel.Information, "Revoked {What} for client {ClientId}")]
    private static partial void TokenRevokedCore(ILogger logger, string what, string clientId);

    // 2xxx: logins
    public static void LoginFailed(ILogger logger, string username, string address, string reason) =>
        LoginFailedCore(logger, LogText.Escape(username), LogText.Escape(address), LogText.Escape(reason));

    [LoggerMessage(2001, LogLevel.Warning, "Login failed for {Username} from {Address}: {Reason}")]
    private static partial void LoginFailedCore(ILogger logger, string username, string address, string reason);

    public static void LoginThrottled(ILogger logger, string username, string address, TimeSpan retryAfter) =>
        LoginThrottledCore(logger, LogText.Escape(username), LogText.Escape(address), retryAfter);

    // Debug: a throttled attempt costs its counter, not a log line (each lock is audited when it starts and ends).
    [LoggerMessage(2002, LogLevel.Debug, "Login throttled for {Username} from {Address}; retry after {RetryAfter}")]
    private static partial void LoginThrottledCore(ILogger logger, string username, string address, TimeSpan retryAfter);

    public static void PasswordHashUpgraded(ILogger logger, string username) =>
        PasswordHashUpgradedCore(logger, LogText.Escape(username));

    [LoggerMessage(2003, LogLevel.Information, "Upgraded the password hash of {Username} to the current parameters")]
    private static partial void PasswordHashUpgradedCore(ILogger logger, string username);

    // 3xxx: bearer tokens
    public static void BearerTokenRefused(ILogger logger, JwtFailure failure, string reason) =>
        BearerTokenRefusedCore(logger, failure, LogText.Escape(reason));

    [LoggerMessage(3001, LogLevel.Information, "Bearer token refused: {Failure}: {Reason}")]
    private static partial void BearerTokenRefusedCore(ILogger logger, JwtFailure failure, string reason);

    // 4xxx: keys and start-up
    public static void SigningKeyGenerated(ILogger logger, string kid, string algorithm) =>
        SigningKeyGeneratedCore(logger, LogText.Escape(kid), LogText.Escape(algorithm));

    [LoggerMessage(4001, LogLevel.Information, "Generated signing key {Kid} ({Algorithm})")]
    private static partial void SigningKeyGeneratedCore(ILogger logger, string kid, string algorithm);

    public static void MasterKeyCreated(ILogger logger, string path) =>
        MasterKeyCreatedCore(logger, LogText.Escape(path));

    [LoggerMessage(4002, LogLevel.Information, "Created a new master key at {Path}; back it up apart from the database")]
    private static partial void MasterKeyCreatedCore(ILogger logger, string path);

    public static void SigningKeyRotated(ILogger logger, string kid, string algorithm, DateTimeOffset activatesAt) =>
        SigningKeyRotatedCore(logger, LogText.Escape(kid), LogText.Escape(algorithm), activatesAt);

    [LoggerMessage(4004, LogLevel.Information, "Rotated signing keys: {Kid} ({Algorithm}) is published and signs from {ActivatesAt:O}")]
    private static partial void SigningKeyRotatedCore(ILogger logger, string kid, string algorithm, DateTimeOffset activatesAt);

    [LoggerMessage(4005, LogLevel.Error, "Signing-key maintenance failed; keeping the current keys")]
    public static partial void KeyMaintenanceFailed(ILogger logger, Exception exception);

    [LoggerMessage(4006, LogLevel.Warning, "Could not re-read the revoked access tokens; keeping the list from the last sync")]
    public static partial void RevocationSyncFailed(ILogger logger, Exception exception);

    [LoggerMessage(4007, LogLevel.Warning, "Could not clear expired sealed refresh-token successors; the next rotation after the sweep interval tries again")]
    public static partial void SealSweepFailed(ILogger logger, Exception exception);

    public static void DatabaseUnavailable(ILogger logger, string provider, string path, Exception exception) =>
        DatabaseUnavailableCore(logger, LogText.Escape(provider), LogText.Escape(path), exception);

    [LoggerMessage(6001, LogLevel.Warning, "The {Provider} database is unavailable; answered {Path} with 503")]
    private static partial void DatabaseUnavailableCore(ILogger logger, string provider, string path, Exception exception);

    [LoggerMessage(6002, LogLevel.Warning, "Could not copy the SQLite write-ahead log into the database file; trying again every 100 ms")]
    public static partial void CheckpointFailed(ILogger logger, Exception exception);

    public static void PlainHttpIssuer(ILogger logger, string issuer) =>
        PlainHttpIssuerCore(logger, LogText.Escape(issuer));

    [LoggerMessage(4003, LogLevel.Warning, "The issuer {Issuer} is plain HTTP on a non-loopback host; serve Latchkey behind TLS in production")]
    private static partial void PlainHttpIssuerCore(ILogger logger, string issuer);

    // Latchkey's own text, from the operator's connection string (mode and host, never the password): escaped, but too
    // long for the cap meant for request values.
    public static void WeakDatabaseTls(ILogger logger, string warning) =>
        WeakDatabaseTlsCore(logger, LogText.Escape(warning, maxLength: 2000));

    [LoggerMessage(4008, LogLevel.Warning, "{Warning}")]
    private static partial void WeakDatabaseTlsCore(ILogger logger, string warning);

    [LoggerMessage(4010, LogLevel.Warning, "This node's clock is {Difference} off the database's; cut-offs of tokens compare this node's time with other nodes': keep every clock synchronized (NTP)")]
    public static partial void ClockDiffersFromDatabase(ILogger logger, TimeSpan difference);

    [LoggerMessage(4009, LogLevel.Warning, "Housekeeping (purging expired rows, reporting ended login locks) failed; trying again at the next interval")]
    public static partial void HousekeepingFailed(ILogger logger, Exception exception);

    // 5xxx: audit
    public static void AuditEvent(ILogger logger, string auditType, string outcome, string actor, string subject, string clientId, string address, string detail) =>
        AuditEventCore(logger, LogText.Escape(auditType), LogText.Escape(outcome), LogText.Escape(actor), LogText.Escape(subject), LogText.Escape(clientId), LogText.Escape(address), LogText.Escape(detail));

    [LoggerMessage(5001, LogLevel.Information, "Audit {AuditType} {Outcome}: actor {Actor}, subject {Subject}, client {ClientId}, address {Address}, detail {Detail}")]
    private static partial void AuditEventCore(ILogger logger, string auditType, string outcome, string actor, string subject, string clientId, string address, string detail);

    [LoggerMessage(5002, LogLevel.Information, "Deleted {Count} audit events older than the retention of {Retention}")]
    public static partial void AuditEventsExpired(ILogger logger, int count, TimeSpan retention);

    // 7xxx: the HTTP edge (client addresses, rate limit)
    public static void TrustingForwardedHeader(ILogger logger, string header, string proxies, int limit) =>
        TrustingForwardedHeaderCore(logger, LogText.Escape(header), LogText.Escape(proxies, maxLength: 2000), limit);

    [LoggerMessage(7001, LogLevel.Information, "Client addresses: believing {Header} from {Proxies}, at most {Limit} entries from the right")]
    private static partial void TrustingForwardedHeaderCore(ILogger logger, string header, string proxies, int limit);

    public static void RequestRateLimited(ILogger logger, string path, string address, TimeSpan retryAfter) =>
        RequestRateLimitedCore(logger, LogText.Escape(path), LogText.Escape(address), retryAfter);

    [LoggerMessage(7002, LogLevel.Debug, "Request rate limit: refused {Path} from {Address}; retry after {RetryAfter}")]
    private static partial void RequestRateLimitedCore(ILogger logger, string path, string address, TimeSpan retryAfter);
}
