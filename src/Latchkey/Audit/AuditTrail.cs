using System.Globalization;
using Latchkey.Diagnostics;
using Latchkey.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Audit;

/// <summary>
/// Records a security event twice in one call: a row in the <see cref="IAuditLog"/> (read back by <c>latchkey audit</c>
/// and <c>GET /admin/audit</c>) and a structured log line. Callers pass names, ids, <c>jti</c>s and key ids only — never a
/// password, secret or whole token. Rows older than <see cref="AuditOptions.Retention"/> are deleted here, at most once an hour.
/// </summary>
public sealed class AuditTrail(IAuditLog log, IUserStore users, IOptions<LatchkeyOptions> options, TimeProvider time, ILogger<AuditTrail> logger)
{
    /// <summary>How often, at most, a write also deletes expired rows.</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromHours(1);

    private readonly IntervalGate _sweep = new(SweepInterval);

    public async Task WriteAsync(AuditEvent e, CancellationToken cancellationToken)
    {
        // Fields can hold what a request sent (a client id, a name, a detail quoting them): escaped and capped once, here,
        // so the log line and the stored row (shown by `latchkey audit` and GET /admin/audit) hold no line break or ESC.
        e = e with
        {
            Type = LogText.Escape(e.Type),
            Outcome = LogText.Escape(e.Outcome),
            Actor = LogText.Escape(e.Actor),
            Subject = LogText.Escape(e.Subject),
            ClientId = LogText.Escape(e.ClientId),
            Address = LogText.Escape(e.Address),
            Detail = LogText.Escape(e.Detail),
        };
        Log.AuditEvent(logger, e.Type, e.Outcome, e.Actor ?? "-", e.Subject ?? "-", e.ClientId ?? "-", e.Address ?? "-", e.Detail ?? "-");
        await log.WriteAsync(e, cancellationToken);
        await SweepIfDueAsync(cancellationToken);
    }

    /// <summary>Deletes rows past retention, unless that was done less than <see cref="SweepInterval"/> ago by this instance.</summary>
    internal async Task SweepIfDueAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (!_sweep.TryEnter(now))
            return;
        int deleted = await log.DeleteBeforeAsync(now - options.Value.Audit.Retention, cancellationToken);
        if (deleted > 0)
            Log.AuditEventsExpired(logger, deleted, options.Value.Audit.Retention);
    }

    /// <summary>
    /// Events since <paramref name="since"/>, oldest first; with <paramref name="normalizedUsername"/> (as
    /// <c>Usernames.Normalize</c> makes it), only those by or about that user (named, or by id as in tokens). A user since
    /// removed is still found by name.
    /// </summary>
    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(DateTimeOffset since, string? normalizedUsername, CancellationToken cancellationToken)
    {
        string? name = normalizedUsername;
        UserRecord? user = name is null ? null : await users.FindByUsernameAsync(name, cancellationToken);
        string[]? subjects = name is null ? null : user is null ? [name] : [user.Username, user.Id];
        return (await log.ReadAsync(new AuditQuery(since, subjects), cancellationToken)).Select(AuditEntry.From).ToArray();
    }

    /// <summary>
    /// Reads a <c>since</c> value: an ISO 8601 instant (<c>2026-01-01T00:00:00Z</c>) or a duration back from now
    /// (<c>30m</c>, <c>24h</c>, <c>7d</c>). Null when it is neither.
    /// </summary>
    public static DateTimeOffset? ParseSince(string text, DateTimeOffset now)
    {
        text = text.Trim();
        if (text.Length >= 2 && char.IsAsciiDigit(text[0]) && text[^1] is 's' or 'm' or 'h' or 'd' or 'w' &&
            int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n))
        {
            TimeSpan back = text[^1] switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => TimeSpan.FromDays(7 * (long)n),
            };
            return now - back;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset at)
            ? at
            : null;
    }
}
