using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlAccessTokenDenyList(SqlDatabase database) : IAccessTokenDenyList
{
    public async Task AddAsync(string jwtId, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        // Entries leave once their token would have expired anyway, so the list stays as small as the live tokens.
        await using DbCommand command = connection.CreateCommand("""
            DELETE FROM revoked_access_tokens WHERE expires_at <= @now;
            INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (@jti, @expires) ON CONFLICT (jti) DO NOTHING;
            """)
            .Add("@jti", jwtId)
            .Add("@expires", expiresAt)
            .Add("@now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> ContainsAsync(string jwtId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("SELECT 1 FROM revoked_access_tokens WHERE jti = @jti AND expires_at > @now")
            .Add("@jti", jwtId)
            .Add("@now", now);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public async Task<IReadOnlyDictionary<string, DateTimeOffset>> ListAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("SELECT jti, expires_at FROM revoked_access_tokens WHERE expires_at > @now").Add("@now", now);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
            entries[reader.GetString(0)] = reader.GetTime(1);
        return entries;
    }
}
