namespace Latchkey.Storage;

/// <summary>User accounts. Usernames are stored lower-case; callers normalize before calling.</summary>
public interface IUserStore
{
    Task<UserRecord?> FindByUsernameAsync(string username, CancellationToken cancellationToken);

    Task<UserRecord?> FindByIdAsync(string id, CancellationToken cancellationToken);

    /// <summary>Every user, by username in byte order (the same on every provider).</summary>
    Task<IReadOnlyList<UserRecord>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Adds the user unless the username is taken; returns false when it is.</summary>
    Task<bool> TryAddAsync(UserRecord user, CancellationToken cancellationToken);

    /// <summary>
    /// Changes one user atomically: the row is read under a lock, <paramref name="change"/> is applied to it, and its
    /// password hash, password-change time, roles and disabled flag are written back, so that concurrent changes never
    /// lose one another's update. With <paramref name="cutOff"/> (a <see cref="RevocationKinds.User"/> revocation of this
    /// user), the user's <see cref="UserRecord.TokensValidAfter"/> becomes its <c>At</c> and it is recorded for every node,
    /// in the same transaction. Returns the user before and after, or null when there is no such user.
    /// </summary>
    Task<UserUpdate?> UpdateAsync(string username, Func<UserRecord, UserRecord> change, Revocation? cutOff, CancellationToken cancellationToken);

    /// <summary>
    /// Moves the user's cut-off (<see cref="UserRecord.TokensValidAfter"/>) later to <paramref name="cutOff"/>'s <c>At</c>,
    /// never earlier, and records it for every node, in one transaction. Called right after a change that cut the user's
    /// tokens off has committed, with the time after the commit: a login that read the account before the commit began
    /// before that time, so its tokens are refused even if it began after the first cut-off was taken.
    /// </summary>
    Task ExtendCutOffAsync(Revocation cutOff, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the hash only if it still equals <paramref name="expectedHash"/>: a login that upgrades an old hash
    /// must never overwrite a password that an admin changed in the meantime.
    /// </summary>
    Task<bool> TryUpgradePasswordHashAsync(string username, string expectedHash, string newHash, CancellationToken cancellationToken);
}

/// <summary>A user as it was before an <see cref="IUserStore.UpdateAsync"/> and as it is after.</summary>
public sealed record UserUpdate(UserRecord Before, UserRecord After);
