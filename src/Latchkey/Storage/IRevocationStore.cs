namespace Latchkey.Storage;

/// <summary>
/// What Latchkey's own endpoints refuse tokens for (revoked access tokens, logins, keys; users' and clients' cut-offs),
/// shared by every node. Each node reads the live revocations when it starts, then, every
/// <see cref="LatchkeyOptions.RevocationRefreshInterval"/>, only those recorded since: the cost follows the churn, not
/// the size of the table. "Since" is on the database's clock, which every node shares, whatever its own clock says.
/// </summary>
public interface IRevocationStore
{
    /// <summary>Records <paramref name="revocation"/>. The same kind and id again keeps the later <c>At</c> and expiry.</summary>
    Task AddAsync(Revocation revocation, CancellationToken cancellationToken);

    /// <summary>Every revocation not yet expired at <paramref name="now"/> (what a node loads when it starts), and the database's time.</summary>
    Task<RevocationsRead> ListLiveAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// The revocations recorded (on the database's clock) at or after <paramref name="since"/>, a time the database gave
    /// earlier: what changed since a node's last read. And the database's time now, for the next read.
    /// </summary>
    Task<RevocationsRead> ListRecordedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>Deletes up to <paramref name="limit"/> revocations expired at <paramref name="now"/>, and returns how many.</summary>
    Task<int> PurgeExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);
}

/// <summary>Revocations as read, and the database's clock at the moment they were read.</summary>
public sealed record RevocationsRead(IReadOnlyList<Revocation> Revocations, DateTimeOffset DatabaseNow);
