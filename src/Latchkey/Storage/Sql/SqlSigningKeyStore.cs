using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlSigningKeyStore(SqlDatabase database) : ISigningKeyStore
{
    private const string InsertSql = """
        INSERT INTO signing_keys (kid, algorithm, public_jwk, protected_private_key, created_at, activates_at, retired_at)
        VALUES (@kid, @alg, @jwk, @private, @created, @activates, NULL)
        """;

    public async Task<IReadOnlyList<SigningKeyRecord>> ListAsync(DateTimeOffset retiredAfter, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            SELECT kid, algorithm, public_jwk, protected_private_key, created_at, activates_at, retired_at
            FROM signing_keys WHERE retired_at IS NULL OR retired_at > @since ORDER BY activates_at, created_at
            """)
            .Add("@since", retiredAfter);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<SigningKeyRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new SigningKeyRecord(
                KeyId: reader.GetString(0),
                Algorithm: reader.GetString(1),
                PublicJwk: reader.GetString(2),
                ProtectedPrivateKey: (byte[])reader.GetValue(3),
                CreatedAt: reader.GetTime(4),
                ActivatesAt: reader.GetTime(5),
                RetiredAt: reader.GetTimeOrNull(6)));
        }

        return keys;
    }

    public async Task AddAsync(SigningKeyRecord key, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = KeyParameters(connection.CreateCommand(InsertSql), key);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> TryRotateAsync(SigningKeyRecord key, DateTimeOffset? unlessCreatedAfter, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        // One rotation at a time across nodes; the second to get the lock sees the first one's key and stands down.
        await database.LockAsync(transaction, "signing-keys", cancellationToken);
        await using DbCommand command = connection.CreateCommand("SELECT COUNT(*) FROM signing_keys WHERE created_at > @since", transaction);
        if (unlessCreatedAfter is { } since)
        {
            command.Add("@since", since);
            if (Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken)) > 0)
                return false;
        }

        command.CommandText = InsertSql;
        KeyParameters(command, key);
        await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = "UPDATE signing_keys SET retired_at = @activates WHERE kid <> @kid AND (retired_at IS NULL OR retired_at > @activates)";
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<bool> RetireAsync(string keyId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            UPDATE signing_keys SET retired_at = CASE WHEN retired_at IS NULL OR retired_at > @at THEN @at ELSE retired_at END
            WHERE kid = @kid
            """)
            .Add("@kid", keyId)
            .Add("@at", at);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static DbCommand KeyParameters(DbCommand command, SigningKeyRecord key) => command
        .Add("@kid", key.KeyId)
        .Add("@alg", key.Algorithm)
        .Add("@jwk", key.PublicJwk)
        .Add("@private", key.ProtectedPrivateKey)
        .Add("@created", key.CreatedAt)
        .Add("@activates", key.ActivatesAt);
}
