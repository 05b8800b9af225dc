using Microsoft.Data.Sqlite;

namespace Latchkey.Storage.Sqlite;

internal sealed class SqliteSigningKeyStore(SqliteDatabase database) : ISigningKeyStore
{
    public async Task<IReadOnlyList<SigningKeyRecord>> ListAsync(DateTimeOffset retiredAfter, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = """
            SELECT kid, algorithm, public_jwk, protected_private_key, created_at, activates_at, retired_at
            FROM signing_keys WHERE retired_at IS NULL OR retired_at > $since ORDER BY activates_at, created_at
            """;
        command.Parameters.AddWithValue("$since", retiredAfter.ToUnixTimeMilliseconds());
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<SigningKeyRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new SigningKeyRecord(
                KeyId: reader.GetString(0),
                Algorithm: reader.GetString(1),
                PublicJwk: reader.GetString(2),
                ProtectedPrivateKey: (byte[])reader.GetValue(3),
                CreatedAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
                ActivatesAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
                RetiredAt: reader.IsDBNull(6) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6))));
        }

        return keys;
    }

    public async Task AddAsync(SigningKeyRecord key, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO signing_keys (kid, algorithm, public_jwk, protected_private_key, created_at, activates_at, retired_at)
            VALUES ($kid, $alg, $jwk, $private, $created, $activates, NULL)
            """;
        command.Parameters.AddWithValue("$kid", key.KeyId);
        command.Parameters.AddWithValue("$alg", key.Algorithm);
        command.Parameters.AddWithValue("$jwk", key.PublicJwk);
        command.Parameters.AddWithValue("$private", key.ProtectedPrivateKey);
        command.Parameters.AddWithValue("$created", key.CreatedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$activates", key.ActivatesAt.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> RetireAsync(string keyId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = """
            UPDATE signing_keys SET retired_at = CASE WHEN retired_at IS NULL OR retired_at > $at THEN $at ELSE retired_at END
            WHERE kid = $kid
            """;
        command.Parameters.AddWithValue("$kid", keyId);
        command.Parameters.AddWithValue("$at", at.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }
}
