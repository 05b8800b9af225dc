namespace Latchkey.Storage;

/// <summary>Signing keys, current and past.</summary>
public interface ISigningKeyStore
{
    /// <summary>Every key not retired before <paramref name="retiredAfter"/>, revoked ones included, oldest activation first.</summary>
    Task<IReadOnlyList<SigningKeyRecord>> ListAsync(DateTimeOffset retiredAfter, CancellationToken cancellationToken);

    Task AddAsync(SigningKeyRecord key, CancellationToken cancellationToken);

    /// <summary>
    /// Adds <paramref name="key"/> and schedules every other key of its purpose still signing at its activation to stop then,
    /// in one transaction. With <paramref name="unlessCreatedAfter"/>, does nothing and returns false when a key of its purpose
    /// was created after that moment: several nodes finding a rotation due at once add one key, not one each.
    /// </summary>
    Task<bool> TryRotateAsync(SigningKeyRecord key, DateTimeOffset? unlessCreatedAfter, CancellationToken cancellationToken);

    /// <summary>
    /// Sets when the key stops signing, unless it already stops earlier; returns false for an unknown key.
    /// Retiring is one-way: a retired key never signs again.
    /// </summary>
    Task<bool> RetireAsync(string keyId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Revokes a key now (a leak), in one transaction under the rotation lock: it stops signing at <paramref name="at"/> and is
    /// no longer published; the revocation is recorded for every node. When no other key of its purpose would then be signing,
    /// another of that purpose signs from that moment: the earliest pending key, brought forward, or else
    /// <paramref name="replacement"/>, added active at once with the revoked key's purpose. A pending key revoked before it signs leaves the keys it was to replace signing.
    /// </summary>
    Task<KeyRevocationResult> RevokeAsync(string keyId, DateTimeOffset at, SigningKeyRecord replacement, CancellationToken cancellationToken);
}

/// <summary>What <see cref="ISigningKeyStore.RevokeAsync"/> did.</summary>
public enum KeyRevocationStatus
{
    /// <summary>Revoked; another key was signing already.</summary>
    Revoked,

    /// <summary>Revoked, and the earliest pending key signs from now.</summary>
    RevokedPendingKeySignsNow,

    /// <summary>Revoked, and the replacement key was added, signing from now.</summary>
    RevokedReplacementAdded,

    /// <summary>No key has that id.</summary>
    NotFound,

    /// <summary>The key was revoked already. Nothing changed.</summary>
    AlreadyRevoked,
}

/// <summary>The outcome of a key revocation, and the key that signs once it is done (when it changed).</summary>
public sealed record KeyRevocationResult(KeyRevocationStatus Status, string? SigningKeyId = null);
