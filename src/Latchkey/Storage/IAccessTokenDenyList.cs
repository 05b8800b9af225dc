namespace Latchkey.Storage;

/// <summary>Revoked access tokens (RFC 7009), by <c>jti</c>, kept until the token would have expired anyway.</summary>
public interface IAccessTokenDenyList
{
    Task AddAsync(string jwtId, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken);

    Task<bool> ContainsAsync(string jwtId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Every entry whose token has not expired yet, by <c>jti</c>: what each node keeps in memory.</summary>
    Task<IReadOnlyDictionary<string, DateTimeOffset>> ListAsync(DateTimeOffset now, CancellationToken cancellationToken);
}
