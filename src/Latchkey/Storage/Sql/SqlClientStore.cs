using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlClientStore(SqlDatabase database) : IClientStore
{
    private const string Columns = "client_id, secret_hash, grant_types, scopes, audience, disabled, created_at";

    public async Task<ClientRecord?> FindAsync(string clientId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"SELECT {Columns} FROM clients WHERE client_id = @id").Add("@id", clientId);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<ClientRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"SELECT {Columns} FROM clients ORDER BY client_id{database.OrdinalCollation}");
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var clients = new List<ClientRecord>();
        while (await reader.ReadAsync(cancellationToken))
            clients.Add(Read(reader));
        return clients;
    }

    public async Task<bool> TryAddAsync(ClientRecord client, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"""
            INSERT INTO clients ({Columns}) VALUES (@id, @hash, @grants, @scopes, @audience, @disabled, @created)
            ON CONFLICT (client_id) DO NOTHING
            """)
            .Add("@id", client.ClientId)
            .Add("@hash", client.SecretHash)
            .Add("@grants", StoredJson.Write(client.GrantTypes))
            .Add("@scopes", StoredJson.Write(client.Scopes))
            .Add("@audience", client.Audience)
            .Add("@disabled", client.Disabled ? 1L : 0L)
            .Add("@created", client.CreatedAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public Task<bool> SetSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE clients SET secret_hash = @value WHERE client_id = @id", clientId, c => c.Add("@value", secretHash), cancellationToken);

    public Task<bool> SetDisabledAsync(string clientId, bool disabled, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE clients SET disabled = @value WHERE client_id = @id", clientId, c => c.Add("@value", disabled ? 1L : 0L), cancellationToken);

    public Task<bool> RemoveAsync(string clientId, CancellationToken cancellationToken) =>
        ExecuteAsync("DELETE FROM clients WHERE client_id = @id", clientId, _ => { }, cancellationToken);

    private async Task<bool> ExecuteAsync(string sql, string clientId, Action<DbCommand> parameters, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand(sql).Add("@id", clientId);
        parameters(command);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static ClientRecord Read(DbDataReader reader) => new(
        ClientId: reader.GetString(0),
        SecretHash: reader.GetString(1),
        GrantTypes: StoredJson.ReadList(reader.GetString(2)),
        Scopes: StoredJson.ReadList(reader.GetString(3)),
        Audience: reader.GetStringOrNull(4),
        Disabled: reader.GetInt64(5) != 0,
        CreatedAt: reader.GetTime(6));
}
