namespace Latchkey.Storage;

/// <summary>Clients: the built-in first-party one and the registered ones.</summary>
public interface IClientStore
{
    Task<ClientRecord?> FindAsync(string clientId, CancellationToken cancellationToken);

    /// <summary>Every client, by id in byte order (the same on every provider).</summary>
    Task<IReadOnlyList<ClientRecord>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Adds the client unless the id is taken; returns false when it is.</summary>
    Task<bool> TryAddAsync(ClientRecord client, CancellationToken cancellationToken);

    /// <summary>
    /// Changes one client atomically: the row is read under a lock, <paramref name="change"/> is applied, and its secret
    /// hash, grant types, scopes, audience, disabled flag and introspection permission are written back, so concurrent
    /// changes never lose one another's update. With <paramref name="cutOff"/> (a <see cref="RevocationKinds.Client"/>
    /// revocation), the client's tokens issued until then are refused from then on, recorded in the same transaction.
    /// Returns the client before and after, or null when there is no such client.
    /// </summary>
    Task<ClientUpdate?> UpdateAsync(string clientId, Func<ClientRecord, ClientRecord> change, Revocation? cutOff, CancellationToken cancellationToken);

    /// <summary>Removes the client and records <paramref name="cutOff"/> in the same transaction; false when there was no such client.</summary>
    Task<bool> RemoveAsync(string clientId, Revocation cutOff, CancellationToken cancellationToken);
}

/// <summary>A client as it was before an <see cref="IClientStore.UpdateAsync"/> and as it is after.</summary>
public sealed record ClientUpdate(ClientRecord Before, ClientRecord After);
