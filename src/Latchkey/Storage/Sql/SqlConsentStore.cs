using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlConsentStore(SqlDatabase database) : IConsentStore
{
    public async Task<ConsentRecord?> FindAsync(string userId, string clientId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("SELECT user_id, client_id, scopes, granted_at FROM consents WHERE user_id = @user AND client_id = @client")
            .Add("@user", userId)
            .Add("@client", clientId);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task SaveAsync(ConsentRecord consent, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES (@user, @client, @scopes, @at)
            ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at
            """)
            .Add("@user", consent.UserId)
            .Add("@client", consent.ClientId)
            .Add("@scopes", StoredJson.Write(consent.Scopes))
            .Add("@at", consent.GrantedAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<ConsentRecord>> ListOfUserAsync(string userId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand(
            $"SELECT user_id, client_id, scopes, granted_at FROM consents WHERE user_id = @user ORDER BY client_id{database.OrdinalCollation}")
            .Add("@user", userId);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var consents = new List<ConsentRecord>();
        while (await reader.ReadAsync(cancellationToken))
            consents.Add(Read(reader));
        return consents;
    }

    public async Task<bool> RemoveAsync(string userId, string clientId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("DELETE FROM consents WHERE user_id = @user AND client_id = @client")
            .Add("@user", userId)
            .Add("@client", clientId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static ConsentRecord Read(DbDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), StoredJson.ReadList(reader.GetString(2)), reader.GetTime(3));
}
