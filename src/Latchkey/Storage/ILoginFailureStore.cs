namespace Latchkey.Storage;

/// <summary>
/// Failed-login counters, kept in the database so that every node and the CLI see the same counts.
/// Usernames arrive hashed: attempted names can hold passwords typed into the wrong field.
/// </summary>
public interface ILoginFailureStore
{
    Task<LoginFailureCounts> GetAsync(string userKey, string addressKey, DateTimeOffset windowStart, CancellationToken cancellationToken);

    /// <summary>Counts one failure for both the username and the address, atomically.</summary>
    Task RecordFailureAsync(string userKey, string addressKey, DateTimeOffset at, DateTimeOffset windowStart, CancellationToken cancellationToken);

    /// <summary>
    /// Counts an attempt against the username before its password is checked, atomically across nodes, and returns the
    /// new count: concurrent guesses each get their own number, so no more of them are tested than the budget allows.
    /// </summary>
    Task<int> CountUserAttemptAsync(string userKey, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Counts one failure for the address only (the username's attempt was counted already).</summary>
    Task RecordAddressFailureAsync(string addressKey, DateTimeOffset at, DateTimeOffset windowStart, CancellationToken cancellationToken);

    /// <summary>A successful login clears the username's consecutive failures (not the address's).</summary>
    Task ResetUserAsync(string userKey, CancellationToken cancellationToken);
}
