using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlAuditLog(SqlDatabase database) : IAuditLog
{
    public async Task WriteAsync(AuditEvent e, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO audit_events (at, type, outcome, actor, subject, client_id, address, detail)
            VALUES (@at, @type, @outcome, @actor, @subject, @client, @address, @detail)
            """)
            .Add("@at", e.At)
            .Add("@type", e.Type)
            .Add("@outcome", e.Outcome)
            .Add("@actor", e.Actor)
            .Add("@subject", e.Subject)
            .Add("@client", e.ClientId)
            .Add("@address", e.Address)
            .Add("@detail", e.Detail);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<AuditEvent>> ReadAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("");
        string filter = "";
        if (query.Users is { Count: > 0 } users)
        {
            string[] names = users.Select((_, i) => "@u" + i).ToArray();
            filter = $" AND (actor IN ({string.Join(", ", names)}) OR subject IN ({string.Join(", ", names)}))";
            int i = 0;
            foreach (string user in users)
                command.Add("@u" + i++, user);
        }

        command.CommandText = "SELECT at, type, outcome, actor, subject, client_id, address, detail FROM audit_events WHERE at >= @since" + filter + " ORDER BY id";
        command.Add("@since", query.Since);
        await using DbDataReader r = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<AuditEvent>();
        while (await r.ReadAsync(cancellationToken))
        {
            events.Add(new AuditEvent(r.GetTime(0), r.GetString(1), r.GetString(2),
                r.GetStringOrNull(3), r.GetStringOrNull(4), r.GetStringOrNull(5), r.GetStringOrNull(6), r.GetStringOrNull(7)));
        }

        return events;
    }

    public async Task<int> DeleteBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("DELETE FROM audit_events WHERE at < @cutoff").Add("@cutoff", cutoff);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
