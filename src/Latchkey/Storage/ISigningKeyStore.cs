namespace Latchkey.Storage;

/// <summary>Signing keys, current and past.</summary>
public interface ISigningKeyStore
{
    /// <summary>Every key not yet retired, oldest first.</summary>
    Task<IReadOnlyList<SigningKeyRecord>> ListActiveAsync(CancellationToken cancellationToken);

    Task AddAsync(SigningKeyRecord key, CancellationToken cancellationToken);
}
