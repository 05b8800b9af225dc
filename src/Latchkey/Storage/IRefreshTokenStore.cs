namespace Latchkey.Storage;

/// <summary>What happened when a refresh token was presented for rotation.</summary>
public enum RefreshConsumeStatus
{
    /// <summary>The token was unspent: it is now spent, and the successor stored.</summary>
    Consumed,

    /// <summary>The same client presented it again within the reuse window: here is the sealed successor it already got.</summary>
    Replayed,

    /// <summary>A spent token came back after the window (or from another client): the whole family is now revoked.</summary>
    ReuseDetected,

    /// <summary>The token, or its family, has expired. Nothing changed.</summary>
    Expired,

    /// <summary>The family was revoked earlier. Nothing changed.</summary>
    Revoked,

    /// <summary>No such token. Nothing changed.</summary>
    NotFound,
}

/// <summary>The outcome of <see cref="IRefreshTokenStore.TryConsumeRefreshTokenAsync"/>.</summary>
public sealed record RefreshConsumeResult(RefreshConsumeStatus Status, byte[]? SealedSuccessor = null, string? FamilyId = null);

/// <summary>
/// A refresh token with its family and its user as stored now (null once the user is removed), for checks made before
/// rotation and for introspection. One query: a rotation needs all three.
/// </summary>
public sealed record RefreshTokenLookup(RefreshTokenRecord Token, RefreshFamilyRecord Family, UserRecord? User);

/// <summary>Refresh-token families (RFC 9700 §4.14): rotation, reuse detection and revocation.</summary>
public interface IRefreshTokenStore
{
    /// <summary>Starts a family at login, with its first token.</summary>
    Task AddFamilyAsync(RefreshFamilyRecord family, RefreshTokenRecord first, CancellationToken cancellationToken);

    Task<RefreshTokenLookup?> FindAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// Spends a refresh token, atomically: of any number of concurrent calls for one token, exactly one sees
    /// <see cref="RefreshConsumeStatus.Consumed"/> and stores <paramref name="successor"/> with
    /// <paramref name="sealedSuccessor"/> (kept for <paramref name="reuseWindow"/> only). Within that window the others see
    /// <see cref="RefreshConsumeStatus.Replayed"/> with that same sealed successor; after it, or with a zero window,
    /// they see <see cref="RefreshConsumeStatus.ReuseDetected"/> and the family is revoked, successor included.
    /// A token is never spent twice and a family never has two successors of one token. The token must belong to
    /// <paramref name="successor"/>'s family (the one <see cref="FindAsync"/> returned); any other is
    /// <see cref="RefreshConsumeStatus.NotFound"/>.
    /// </summary>
    Task<RefreshConsumeResult> TryConsumeRefreshTokenAsync(string tokenHash, RefreshTokenRecord successor, byte[] sealedSuccessor,
        DateTimeOffset now, TimeSpan reuseWindow, CancellationToken cancellationToken);

    /// <summary>
    /// Clears up to <paramref name="limit"/> sealed successors whose reuse window ended at or before <paramref name="now"/>,
    /// in one transaction, and returns how many. Expired seals are never served either way; this only keeps them from
    /// lingering in the database.
    /// </summary>
    Task<int> DropExpiredSealsAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Revokes one family and records it for every node (a <see cref="RevocationKinds.Family"/> revocation: Latchkey refuses
    /// its access tokens too); returns false if it was unknown or already revoked. Reuse detected by
    /// <see cref="TryConsumeRefreshTokenAsync"/> does the same.
    /// </summary>
    Task<bool> RevokeFamilyAsync(string familyId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Revokes every live family of a user (whose tokens were cut off: disabled, roles or password changed, logged out) and
    /// returns how many. Recorded as the user's cut-off, not family by family.
    /// </summary>
    Task<int> RevokeFamiliesOfUserAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Revokes every live family of a client (disabled or removed) and returns how many. Recorded as the client's cut-off.</summary>
    Task<int> RevokeFamiliesOfClientAsync(string clientId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The ids of the live families that began in a sign-in session (to revoke them one by one at its logout).</summary>
    Task<IReadOnlyList<LiveFamily>> ListLiveFamiliesOfSessionAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>The ids of a user's live families with one client (to revoke them when the user withdraws consent).</summary>
    Task<IReadOnlyList<LiveFamily>> ListLiveFamiliesOfUserAndClientAsync(string userId, string clientId, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes up to <paramref name="limit"/> families past their absolute lifetime (with their tokens), and up to as many
    /// expired tokens; returns how many rows went.
    /// </summary>
    Task<int> PurgeExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);
}

/// <summary>A live refresh family, by id, with the client it is for.</summary>
public sealed record LiveFamily(string FamilyId, string ClientId);
