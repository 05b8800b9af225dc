using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlRevocationStore(SqlDatabase database) : IRevocationStore
{
    /// <summary>
    /// Records a revocation whose parameters <see cref="RevocationParameters.AddRevocation"/> sets, stamped with the
    /// database's clock. Other stores run it in their own transactions, so that a change and its revocation are committed
    /// together. A later cut-off of the same user or client replaces an earlier one, and is stamped again, so every node
    /// reads it anew (CASE rather than MAX/GREATEST, which the two engines spell differently).
    /// </summary>
    internal static string UpsertSql(SqlDatabase database) => $"""
        INSERT INTO revocations (kind, id, at, expires_at, recorded_at) VALUES (@r_kind, @r_id, @r_at, @r_expires, {database.NowMillisecondsSql})
        ON CONFLICT (kind, id) DO UPDATE SET
          at = CASE WHEN excluded.at > revocations.at THEN excluded.at ELSE revocations.at END,
          expires_at = CASE WHEN excluded.expires_at > revocations.expires_at THEN excluded.expires_at ELSE revocations.expires_at END,
          recorded_at = excluded.recorded_at
        """;

    private readonly string _upsertSql = UpsertSql(database);

    public async Task AddAsync(Revocation revocation, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand(_upsertSql).AddRevocation(revocation);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<RevocationsRead> ListLiveAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        ListAsync("expires_at > @time", now, cancellationToken);

    public Task<RevocationsRead> ListRecordedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken) =>
        ListAsync("recorded_at >= @time", since, cancellationToken);

    private async Task<RevocationsRead> ListAsync(string where, DateTimeOffset time, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        // The clock first: a revocation recorded while the rows are read is then at or after it, and the next read sees it.
        await using DbCommand command = connection.CreateCommand($"""
            SELECT {database.NowMillisecondsSql};
            SELECT kind, id, at, expires_at FROM revocations WHERE {where}
            """).Add("@time", time);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        DateTimeOffset databaseNow = DateTimeOffset.FromUnixTimeMilliseconds(Convert.ToInt64(reader.GetValue(0)));
        await reader.NextResultAsync(cancellationToken);
        var revocations = new List<Revocation>();
        while (await reader.ReadAsync(cancellationToken))
            revocations.Add(new Revocation(reader.GetString(0), reader.GetString(1), reader.GetTime(2), reader.GetTime(3)));
        return new RevocationsRead(revocations, databaseNow);
    }

    public async Task<int> PurgeExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            DELETE FROM revocations WHERE (kind, id) IN (SELECT kind, id FROM revocations WHERE expires_at <= @now LIMIT @limit)
            """)
            .Add("@now", now)
            .Add("@limit", (long)limit);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

internal static class RevocationParameters
{
    /// <summary>The parameters of <see cref="SqlRevocationStore.UpsertSql"/>.</summary>
    public static DbCommand AddRevocation(this DbCommand command, Revocation revocation) => command
        .Add("@r_kind", revocation.Kind)
        .Add("@r_id", revocation.Id)
        .Add("@r_at", revocation.At)
        .Add("@r_expires", revocation.ExpiresAt);
}
