using Microsoft.Data.Sqlite;

namespace Latchkey.Storage.Sqlite;

internal sealed class SqliteAuditLog(SqliteDatabase database) : IAuditLog
{
    public async Task WriteAsync(AuditEvent e, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO audit_events (at, type, outcome, actor, subject, client_id, address, detail)
            VALUES ($at, $type, $outcome, $actor, $subject, $client, $address, $detail)
            """;
        command.Parameters.AddWithValue("$at", e.At.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$type", e.Type);
        command.Parameters.AddWithValue("$outcome", e.Outcome);
        command.Parameters.AddWithValue("$actor", (object?)e.Actor ?? DBNull.Value);
        command.Parameters.AddWithValue("$subject", (object?)e.Subject ?? DBNull.Value);
        command.Parameters.AddWithValue("$client", (object?)e.ClientId ?? DBNull.Value);
        command.Parameters.AddWithValue("$address", (object?)e.Address ?? DBNull.Value);
        command.Parameters.AddWithValue("$detail", (object?)e.Detail ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<AuditEvent>> ReadAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        string filter = "";
        if (query.Users is { Count: > 0 } users)
        {
            string[] names = users.Select((_, i) => "$u" + i).ToArray();
            filter = $" AND (actor IN ({string.Join(", ", names)}) OR subject IN ({string.Join(", ", names)}))";
            int i = 0;
            foreach (string user in users)
                command.Parameters.AddWithValue("$u" + i++, user);
        }

        command.CommandText = "SELECT at, type, outcome, actor, subject, client_id, address, detail FROM audit_events WHERE at >= $since" + filter + " ORDER BY id";
        command.Parameters.AddWithValue("$since", query.Since.ToUnixTimeMilliseconds());
        await using SqliteDataReader r = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<AuditEvent>();
        while (await r.ReadAsync(cancellationToken))
        {
            events.Add(new AuditEvent(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetString(1), r.GetString(2),
                Optional(r, 3), Optional(r, 4), Optional(r, 5), Optional(r, 6), Optional(r, 7)));
        }

        return events;
    }

    public async Task<int> DeleteBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "DELETE FROM audit_events WHERE at < $cutoff";
        command.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string? Optional(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
}
