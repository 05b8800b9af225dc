using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlLoginSessionStore(SqlDatabase database) : ILoginSessionStore
{
    private const string Columns = "session_id, secret_hash, user_id, auth_time, last_used_at, expires_at, ended_at, address, amr, device";

    public async Task AddAsync(LoginSessionRecord session, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"""
            INSERT INTO login_sessions ({Columns}) VALUES (@id, @hash, @user, @auth, @used, @expires, NULL, @address, @amr, @device)
            """)
            .Add("@id", session.SessionId)
            .Add("@hash", session.SecretHash)
            .Add("@user", session.UserId)
            .Add("@auth", session.AuthTime)
            .Add("@used", session.LastUsedAt)
            .Add("@expires", session.ExpiresAt)
            .Add("@address", session.Address)
            .Add("@amr", session.Amr)
            .Add("@device", session.Device);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<LoginSessionRecord?> FindBySecretHashAsync(string secretHash, CancellationToken cancellationToken) =>
        FindWhereAsync("secret_hash = @key", secretHash, cancellationToken);

    public Task<LoginSessionRecord?> FindAsync(string sessionId, CancellationToken cancellationToken) =>
        FindWhereAsync("session_id = @key", sessionId, cancellationToken);

    private async Task<LoginSessionRecord?> FindWhereAsync(string where, string key, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"SELECT {Columns} FROM login_sessions WHERE {where}").Add("@key", key);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task TouchAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            UPDATE login_sessions SET last_used_at = @at WHERE session_id = @id AND ended_at IS NULL AND last_used_at < @at
            """)
            .Add("@id", sessionId)
            .Add("@at", at);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> EndAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("UPDATE login_sessions SET ended_at = @at WHERE session_id = @id AND ended_at IS NULL")
            .Add("@id", sessionId)
            .Add("@at", at);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<IReadOnlyList<LoginSessionRecord>> ListOpenOfUserAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"""
            SELECT {Columns} FROM login_sessions WHERE user_id = @user AND ended_at IS NULL AND expires_at > @now ORDER BY last_used_at DESC LIMIT 100
            """)
            .Add("@user", userId)
            .Add("@now", now);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var sessions = new List<LoginSessionRecord>();
        while (await reader.ReadAsync(cancellationToken))
            sessions.Add(Read(reader));
        return sessions;
    }

    public async Task<int> EndAllOfUserAsync(string userId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            UPDATE login_sessions SET ended_at = @at WHERE user_id = @user AND ended_at IS NULL AND expires_at > @at
            """)
            .Add("@user", userId)
            .Add("@at", at);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<int> PurgeAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            DELETE FROM login_sessions WHERE session_id IN
              (SELECT session_id FROM login_sessions WHERE expires_at < @before OR ended_at < @before LIMIT @limit)
            """)
            .Add("@before", before)
            .Add("@limit", (long)limit);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static LoginSessionRecord Read(DbDataReader reader) => new(
        SessionId: reader.GetString(0),
        SecretHash: reader.GetString(1),
        UserId: reader.GetString(2),
        AuthTime: reader.GetTime(3),
        LastUsedAt: reader.GetTime(4),
        ExpiresAt: reader.GetTime(5),
        EndedAt: reader.GetTimeOrNull(6),
        Address: reader.GetStringOrNull(7),
        Amr: reader.GetString(8))
    {
        Device = reader.GetStringOrNull(9),
    };
}
