namespace Latchkey.Storage;

/// <summary>Consents users gave to third-party clients (<see cref="ConsentRecord"/>).</summary>
public interface IConsentStore
{
    Task<ConsentRecord?> FindAsync(string userId, string clientId, CancellationToken cancellationToken);

    /// <summary>Stores the consent, replacing the user's earlier one to the same client.</summary>
    Task SaveAsync(ConsentRecord consent, CancellationToken cancellationToken);

    /// <summary>The user's consents, by client id.</summary>
    Task<IReadOnlyList<ConsentRecord>> ListOfUserAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Withdraws a consent; false when there was none.</summary>
    Task<bool> RemoveAsync(string userId, string clientId, CancellationToken cancellationToken);
}
