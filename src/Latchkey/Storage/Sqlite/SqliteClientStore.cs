using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Latchkey.Storage.Sqlite;

internal sealed class SqliteClientStore(SqliteDatabase database) : IClientStore
{
    private const string Columns = "client_id, secret_hash, grant_types, scopes, audience, disabled, created_at";

    public async Task<ClientRecord?> FindAsync(string clientId, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM clients WHERE client_id = $id";
        command.Parameters.AddWithValue("$id", clientId);
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<ClientRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM clients ORDER BY client_id";
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var clients = new List<ClientRecord>();
        while (await reader.ReadAsync(cancellationToken))
            clients.Add(Read(reader));
        return clients;
    }

    public async Task<bool> TryAddAsync(ClientRecord client, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"""
            INSERT INTO clients ({Columns}) VALUES ($id, $hash, $grants, $scopes, $audience, $disabled, $created)
            ON CONFLICT (client_id) DO NOTHING
            """;
        command.Parameters.AddWithValue("$id", client.ClientId);
        command.Parameters.AddWithValue("$hash", client.SecretHash);
        command.Parameters.AddWithValue("$grants", JsonSerializer.Serialize(client.GrantTypes));
        command.Parameters.AddWithValue("$scopes", JsonSerializer.Serialize(client.Scopes));
        command.Parameters.AddWithValue("$audience", (object?)client.Audience ?? DBNull.Value);
        command.Parameters.AddWithValue("$disabled", client.Disabled ? 1 : 0);
        command.Parameters.AddWithValue("$created", client.CreatedAt.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public Task<bool> SetSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE clients SET secret_hash = $value WHERE client_id = $id", clientId, secretHash, cancellationToken);

    public Task<bool> SetDisabledAsync(string clientId, bool disabled, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE clients SET disabled = $value WHERE client_id = $id", clientId, disabled ? 1 : 0, cancellationToken);

    public Task<bool> RemoveAsync(string clientId, CancellationToken cancellationToken) =>
        ExecuteAsync("DELETE FROM clients WHERE client_id = $id AND $value = $value", clientId, 0, cancellationToken);

    private async Task<bool> ExecuteAsync(string sql, string clientId, object value, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$id", clientId);
        command.Parameters.AddWithValue("$value", value);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static ClientRecord Read(SqliteDataReader reader) => new(
        ClientId: reader.GetString(0),
        SecretHash: reader.GetString(1),
        GrantTypes: JsonSerializer.Deserialize<string[]>(reader.GetString(2)) ?? [],
        Scopes: JsonSerializer.Deserialize<string[]>(reader.GetString(3)) ?? [],
        Audience: reader.IsDBNull(4) ? null : reader.GetString(4),
        Disabled: reader.GetInt64(5) != 0,
        CreatedAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)));
}
