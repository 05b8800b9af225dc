namespace Latchkey.Storage;

/// <summary>Browser sign-ins (<see cref="LoginSessionRecord"/>), in the database so that every node knows them.</summary>
public interface ILoginSessionStore
{
    Task AddAsync(LoginSessionRecord session, CancellationToken cancellationToken);

    /// <summary>The session whose cookie secret hashes to <paramref name="secretHash"/>, ended or not; null when there is none.</summary>
    Task<LoginSessionRecord?> FindBySecretHashAsync(string secretHash, CancellationToken cancellationToken);

    Task<LoginSessionRecord?> FindAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>Records a use of a live session (its idle timeout counts from then).</summary>
    Task TouchAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Ends the session; false when it had already ended (or does not exist).</summary>
    Task<bool> EndAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>The user's sessions that have not ended and expire after <paramref name="now"/>, most recently used first.</summary>
    Task<IReadOnlyList<LoginSessionRecord>> ListOpenOfUserAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Ends every live session of the user, and returns how many.</summary>
    Task<int> EndAllOfUserAsync(string userId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Deletes up to <paramref name="limit"/> sessions that ended or expired before <paramref name="before"/>.</summary>
    Task<int> PurgeAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken);
}
