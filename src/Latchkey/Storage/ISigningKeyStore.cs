namespace Latchkey.Storage;

/// <summary>Signing keys, current and past.</summary>
public interface ISigningKeyStore
{
    /// <summary>Every key not retired before <paramref name="retiredAfter"/>, oldest activation first.</summary>
    Task<IReadOnlyList<SigningKeyRecord>> ListAsync(DateTimeOffset retiredAfter, CancellationToken cancellationToken);

    Task AddAsync(SigningKeyRecord key, CancellationToken cancellationToken);

    /// <summary>
    /// Adds <paramref name="key"/> and schedules every other key still signing at its activation to stop then, in one
    /// transaction. With <paramref name="unlessCreatedAfter"/>, does nothing and returns false when a key was created
    /// after that moment: several nodes finding a rotation due at once add one key, not one each.
    /// </summary>
    Task<bool> TryRotateAsync(SigningKeyRecord key, DateTimeOffset? unlessCreatedAfter, CancellationToken cancellationToken);

    /// <summary>
    /// Sets when the key stops signing, unless it already stops earlier; returns false for an unknown key.
    /// Retiring is one-way: a retired key never signs again.
    /// </summary>
    Task<bool> RetireAsync(string keyId, DateTimeOffset at, CancellationToken cancellationToken);
}
