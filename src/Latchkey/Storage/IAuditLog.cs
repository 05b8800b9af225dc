namespace Latchkey.Storage;

/// <summary>Which stored events to read: those at or after <paramref name="Since"/>, and, when <paramref name="Users"/> is given,
/// only those whose actor or subject is one of them (a user's name and id, since events name users either way).</summary>
public sealed record AuditQuery(DateTimeOffset Since, IReadOnlyCollection<string>? Users = null);

/// <summary>The stored record of security events.</summary>
public interface IAuditLog
{
    Task WriteAsync(AuditEvent auditEvent, CancellationToken cancellationToken);

    /// <summary>Events matching <paramref name="query"/>, oldest first.</summary>
    Task<IReadOnlyList<AuditEvent>> ReadAsync(AuditQuery query, CancellationToken cancellationToken);

    /// <summary>Events at or after <paramref name="since"/>, oldest first.</summary>
    Task<IReadOnlyList<AuditEvent>> ReadAsync(DateTimeOffset since, CancellationToken cancellationToken) => ReadAsync(new AuditQuery(since), cancellationToken);

    /// <summary>Deletes every event older than <paramref name="cutoff"/> (retention); returns how many.</summary>
    Task<int> DeleteBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
