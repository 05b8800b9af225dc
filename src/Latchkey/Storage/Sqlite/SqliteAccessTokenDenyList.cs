using Microsoft.Data.Sqlite;

namespace Latchkey.Storage.Sqlite;

internal sealed class SqliteAccessTokenDenyList(SqliteDatabase database) : IAccessTokenDenyList
{
    public async Task AddAsync(string jwtId, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        // Entries leave once their token would have expired anyway, so the list stays as small as the live tokens.
        command.CommandText = """
            DELETE FROM revoked_access_tokens WHERE expires_at <= $now;
            INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($jti, $expires) ON CONFLICT (jti) DO NOTHING;
            """;
        command.Parameters.AddWithValue("$jti", jwtId);
        command.Parameters.AddWithValue("$expires", expiresAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> ContainsAsync(string jwtId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM revoked_access_tokens WHERE jti = $jti AND expires_at > $now";
        command.Parameters.AddWithValue("$jti", jwtId);
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }
}
