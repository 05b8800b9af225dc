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

    /// <summary>Replaces the password hash. Returns false if the user does not exist.</summary>
    Task<bool> SetPasswordHashAsync(string username, string passwordHash, DateTimeOffset changedAt, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the hash only if it still equals <paramref name="expectedHash"/>: a login that upgrades an old hash
    /// must never overwrite a password that an admin changed in the meantime.
    /// </summary>
    Task<bool> TryUpgradePasswordHashAsync(string username, string expectedHash, string newHash, CancellationToken cancellationToken);

    Task<bool> SetDisabledAsync(string username, bool disabled, CancellationToken cancellationToken);

    Task<bool> SetRolesAsync(string username, IReadOnlyList<string> roles, CancellationToken cancellationToken);
}
