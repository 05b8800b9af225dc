using Latchkey.Storage;

namespace Latchkey.Audit;

/// <summary>One audit event as <c>GET /admin/audit</c> and <c>latchkey audit</c> show it.</summary>
public sealed record AuditEntry(DateTimeOffset Time, string Type, string Outcome, string? Actor, string? Subject, string? Client, string? Address, string? Detail)
{
    internal static AuditEntry From(AuditEvent e) => new(e.At, e.Type, e.Outcome, e.Actor, e.Subject, e.ClientId, e.Address, e.Detail);
}
