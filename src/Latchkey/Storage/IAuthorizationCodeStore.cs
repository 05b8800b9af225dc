namespace Latchkey.Storage;

/// <summary>Authorization codes (<see cref="AuthorizationCodeRecord"/>): stored hashed, redeemed once.</summary>
public interface IAuthorizationCodeStore
{
    Task AddAsync(AuthorizationCodeRecord code, CancellationToken cancellationToken);

    /// <summary>
    /// Marks the code redeemed at <paramref name="at"/>, atomically: exactly one of any number of concurrent redemptions gets
    /// <see cref="CodeRedemption.First"/> true. A later one marks the code replayed and gets what was issued from it so far.
    /// Null when there is no such code.
    /// </summary>
    Task<CodeRedemption?> RedeemAsync(string codeHash, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Records what the first redemption issued. Returns true when the code was replayed meanwhile (a second redemption came
    /// before this was recorded and found nothing to revoke): the caller revokes it itself.
    /// </summary>
    Task<bool> RecordIssuedAsync(string codeHash, string? familyId, string jwtId, DateTimeOffset accessTokenExpiresAt, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the user's codes for the client that are not redeemed yet (the user withdrew their consent to it); returns how
    /// many. A redemption of one of them then finds no code.
    /// </summary>
    Task<int> RemoveUnredeemedAsync(string userId, string clientId, CancellationToken cancellationToken);

    /// <summary>Deletes up to <paramref name="limit"/> codes that expired before <paramref name="before"/>.</summary>
    Task<int> PurgeAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken);
}

/// <summary>The code as stored, and whether this was its first redemption.</summary>
public sealed record CodeRedemption(AuthorizationCodeRecord Code, bool First);
