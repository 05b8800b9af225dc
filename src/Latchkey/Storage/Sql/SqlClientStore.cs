using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlClientStore(SqlDatabase database) : IClientStore
{
    private const string Columns = "client_id, secret_hash, grant_types, scopes, audience, disabled, created_at, introspection, is_public, redirect_uris, " +
        "post_logout_redirect_uris, first_party, id_token_signed_response_alg, require_mfa";

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
            INSERT INTO clients ({Columns}) VALUES (@id, @hash, @grants, @scopes, @audience, @disabled, @created, @introspection, @public, @redirects, @logout_redirects,
              @first_party, @id_token_alg, @require_mfa)
            ON CONFLICT (client_id) DO NOTHING
            """)
            .Add("@created", client.CreatedAt)
            .Add("@public", client.IsPublic ? 1L : 0L)
            .AddClient(client);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<ClientUpdate?> UpdateAsync(string clientId, Func<ClientRecord, ClientRecord> change, Revocation? cutOff, CancellationToken cancellationToken)
    {
        // Under the row's lock: concurrent scope changes serialize.
        (ClientRecord Before, ClientRecord After)? update = await LockedUpdate.RunAsync(database, $"SELECT {Columns} FROM clients WHERE client_id = @id", clientId,
            Read,
            before => change(before) with { ClientId = before.ClientId, CreatedAt = before.CreatedAt, IsPublic = before.IsPublic },
            """
            UPDATE clients SET secret_hash = @hash, grant_types = @grants, scopes = @scopes, audience = @audience, disabled = @disabled,
              introspection = @introspection, redirect_uris = @redirects, post_logout_redirect_uris = @logout_redirects, first_party = @first_party,
              id_token_signed_response_alg = @id_token_alg, require_mfa = @require_mfa
            WHERE client_id = @id
            """,
            (command, after) => command.AddClient(after),
            cutOff, cancellationToken);
        return update is { } u ? new ClientUpdate(u.Before, u.After) : null;
    }

    public async Task<bool> RemoveAsync(string clientId, Revocation cutOff, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand("DELETE FROM clients WHERE client_id = @id", transaction).Add("@id", clientId);
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
            return false;
        // Consents name the client by id: a client registered later under the same id must not inherit them.
        command.CommandText = "DELETE FROM consents WHERE client_id = @id";
        await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = SqlRevocationStore.UpsertSql(database);
        command.AddRevocation(cutOff);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private static ClientRecord Read(DbDataReader reader) => new(
        ClientId: reader.GetString(0),
        SecretHash: reader.GetString(1),
        GrantTypes: StoredJson.ReadList(reader.GetString(2)),
        Scopes: StoredJson.ReadList(reader.GetString(3)),
        Audience: reader.GetStringOrNull(4),
        Disabled: reader.GetInt64(5) != 0,
        CreatedAt: reader.GetTime(6),
        Introspection: reader.GetStringOrNull(7),
        IsPublic: reader.GetInt64(8) != 0)
    {
        RedirectUris = reader.GetStringOrNull(9) is { } redirects ? StoredJson.ReadList(redirects) : [],
        PostLogoutRedirectUris = reader.GetStringOrNull(10) is { } logoutRedirects ? StoredJson.ReadList(logoutRedirects) : [],
        FirstParty = reader.GetInt64(11) != 0,
        IdTokenSignedResponseAlg = reader.IsDBNull(12) ? null : reader.GetString(12),
        RequireMfa = reader.GetInt64(13) != 0,
    };
}

file static class ClientParameters
{
    /// <summary>The parameters every write of a client sets (not its creation time or whether it is public, which never change).</summary>
    public static DbCommand AddClient(this DbCommand command, ClientRecord client) => command
        .Add("@id", client.ClientId)
        .Add("@hash", client.SecretHash)
        .Add("@grants", StoredJson.Write(client.GrantTypes))
        .Add("@scopes", StoredJson.Write(client.Scopes))
        .Add("@audience", client.Audience)
        .Add("@disabled", client.Disabled ? 1L : 0L)
        .Add("@introspection", client.Introspection)
        .Add("@redirects", StoredJson.Write(client.RedirectUris))
        .Add("@logout_redirects", StoredJson.Write(client.PostLogoutRedirectUris))
        .Add("@first_party", client.FirstParty ? 1L : 0L)
        .Add("@id_token_alg", client.IdTokenSignedResponseAlg)
        .Add("@require_mfa", client.RequireMfa ? 1L : 0L);
}
