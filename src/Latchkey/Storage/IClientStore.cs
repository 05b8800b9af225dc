namespace Latchkey.Storage;

/// <summary>Registered clients.</summary>
public interface IClientStore
{
    Task<ClientRecord?> FindAsync(string clientId, CancellationToken cancellationToken);

    /// <summary>Every client, by id in byte order (the same on every provider).</summary>
    Task<IReadOnlyList<ClientRecord>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Adds the client unless the id is taken; returns false when it is.</summary>
    Task<bool> TryAddAsync(ClientRecord client, CancellationToken cancellationToken);

    Task<bool> SetSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken);

    Task<bool> SetDisabledAsync(string clientId, bool disabled, CancellationToken cancellationToken);

    Task<bool> RemoveAsync(string clientId, CancellationToken cancellationToken);
}
