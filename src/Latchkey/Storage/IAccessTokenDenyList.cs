namespace Latchkey.Storage;

/// <summary>Revoked access tokens (RFC 7009), by <c>jti</c>, kept until the token would have expired anyway.</summary>
public interface IAccessTokenDenyList
{
    Task AddAsync(string jwtId, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken);

    Task<bool> ContainsAsync(string jwtId, DateTimeOffset now, CancellationToken cancellationToken);
}
