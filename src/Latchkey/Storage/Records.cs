namespace Latchkey.Storage;

/// <summary>A user account. <see cref="Id"/> never changes and is the token's <c>sub</c>.</summary>
public sealed record UserRecord(
    string Id,
    string Username,
    string PasswordHash,
    IReadOnlyList<string> Roles,
    bool Disabled,
    DateTimeOffset CreatedAt,
    DateTimeOffset PasswordChangedAt);

/// <summary>
/// A signing key. The private part is stored only encrypted (<see cref="ProtectedPrivateKey"/>); HMAC deployments
/// keep their secret in configuration and store no key here.
/// </summary>
public sealed record SigningKeyRecord(
    string KeyId,
    string Algorithm,
    string PublicJwk,
    byte[] ProtectedPrivateKey,
    DateTimeOffset CreatedAt,
    DateTimeOffset ActivatesAt,
    DateTimeOffset? RetiredAt);

/// <summary>What the login throttle knows about one attempt's username and address.</summary>
public sealed record LoginFailureCounts(
    int UserFailures,
    DateTimeOffset? UserLastFailureAt,
    int AddressFailuresInWindow,
    DateTimeOffset? OldestAddressFailureInWindow);

/// <summary>A registered (confidential) client. The secret is kept only as a hash.</summary>
public sealed record ClientRecord(
    string ClientId,
    string SecretHash,
    IReadOnlyList<string> GrantTypes,
    IReadOnlyList<string> Scopes,
    string? Audience,
    bool Disabled,
    DateTimeOffset CreatedAt);

/// <summary>Every refresh token descended from one login. Revoking it revokes them all.</summary>
public sealed record RefreshFamilyRecord(
    string FamilyId,
    string UserId,
    string ClientId,
    DateTimeOffset CreatedAt,
    DateTimeOffset AbsoluteExpiresAt,
    DateTimeOffset? RevokedAt);

/// <summary>One refresh token, by the SHA-256 of its value (the value itself is never stored).</summary>
public sealed record RefreshTokenRecord(
    string TokenHash,
    string FamilyId,
    string ClientId,
    string UserId,
    string? Scope,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? SpentAt);

/// <summary>A security event, for the audit log. Never holds a password, secret or whole token.</summary>
public sealed record AuditEvent(
    DateTimeOffset At,
    string Type,
    string Outcome,
    string? Actor = null,
    string? Subject = null,
    string? ClientId = null,
    string? Address = null,
    string? Detail = null);
