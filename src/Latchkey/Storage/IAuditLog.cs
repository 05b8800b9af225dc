namespace Latchkey.Storage;

/// <summary>The stored record of security events.</summary>
public interface IAuditLog
{
    Task WriteAsync(AuditEvent auditEvent, CancellationToken cancellationToken);

    /// <summary>Events at or after <paramref name="since"/>, oldest first.</summary>
    Task<IReadOnlyList<AuditEvent>> ReadAsync(DateTimeOffset since, CancellationToken cancellationToken);
}
