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
