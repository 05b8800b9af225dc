using System.CommandLine;
using System.Text.Json;
using Latchkey.Accounts;
using Latchkey.Audit;
using Latchkey.Endpoints.Admin;
using Latchkey.Protocol;

namespace Latchkey.Server.Cli;

/// <summary><c>latchkey audit [--since …] [--user NAME] [--json]</c>: the security events, oldest first.</summary>
internal static class AuditCommand
{
    private static readonly Option<string?> Since = new("--since")
    {
        Description = "Only events at or after this: an ISO 8601 instant (2026-01-01T00:00:00Z) or a duration back from now (30m, 24h, 7d). Default: all that are kept.",
    };
    private static readonly Option<string?> User = new("--user") { Description = "Only events by or about this user." };
    private static readonly Option<bool> Json = new("--json") { Description = "Print a JSON array of {time, type, outcome, actor, subject, client, address, detail}." };

    public static Command Create()
    {
        var command = new Command("audit", "Show the audit log: logins, throttling, revocations, key and account changes.") { Since, User, Json };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        DateTimeOffset from = DateTimeOffset.MinValue;
        if (parse.GetValue(Since) is { } since)
        {
            if (AuditTrail.ParseSince(since, DateTimeOffset.UtcNow) is not { } parsed)
                return CommonOptions.Fail($"--since '{since}' is neither an ISO 8601 instant (2026-01-01T00:00:00Z) nor a duration (30m, 24h, 7d).");
            from = parsed;
        }

        if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
            return 2;
        await using var _ = admin;
        string? name = parse.GetValue(User) is { } user ? Usernames.Normalize(user) : null;
        AuditEntry[] entries = (await admin.Audit.ReadAsync(from, name, ct)).ToArray();

        if (parse.GetValue(Json))
        {
            Console.WriteLine(JsonSerializer.Serialize(entries, AdminJsonContext.Default.AuditEntryArray));
            return 0;
        }

        Console.WriteLine($"{"TIME (UTC)",-20} {"TYPE",-22} {"OUTCOME",-14} {"ACTOR",-16} {"SUBJECT",-24} {"CLIENT",-16} {"ADDRESS",-16} DETAIL");
        foreach (AuditEntry e in entries)
            Console.WriteLine($"{e.Time.UtcDateTime,-20:yyyy-MM-dd HH:mm:ss} {e.Type,-22} {e.Outcome,-14} {e.Actor ?? "-",-16} {e.Subject ?? "-",-24} {e.Client ?? "-",-16} {e.Address ?? "-",-16} {e.Detail ?? "-"}");
        return 0;
    }
}
