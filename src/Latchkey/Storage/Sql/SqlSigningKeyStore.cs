using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlSigningKeyStore(SqlDatabase database) : ISigningKeyStore
{
    private const string InsertSql = """
        INSERT INTO signing_keys (kid, algorithm, public_jwk, protected_private_key, created_at, activates_at, retired_at, purpose)
        VALUES (@kid, @alg, @jwk, @private, @created, @activates, NULL, @purpose)
        """;

    public async Task<IReadOnlyList<SigningKeyRecord>> ListAsync(DateTimeOffset retiredAfter, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"""
            SELECT {Columns} FROM signing_keys WHERE retired_at IS NULL OR retired_at > @since ORDER BY activates_at, created_at, purpose
            """)
            .Add("@since", retiredAfter);
        return await ReadAllAsync(command, cancellationToken);
    }

    private const string Columns = "kid, algorithm, public_jwk, protected_private_key, created_at, activates_at, retired_at, revoked_at, purpose";

    private static async Task<List<SigningKeyRecord>> ReadAllAsync(DbCommand command, CancellationToken cancellationToken)
    {
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
                RetiredAt: reader.GetTimeOrNull(6),
                RevokedAt: reader.GetTimeOrNull(7))
            { Purpose = reader.GetString(8) });
        }

        return keys;
    }

    public async Task<KeyRevocationResult> RevokeAsync(string keyId, DateTimeOffset at, SigningKeyRecord replacement, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        // The same lock as rotations: a rotation and a revocation never decide on the same keys at once.
        await database.LockAsync(transaction, "signing-keys", cancellationToken);
        await using DbCommand command = connection.CreateCommand($"SELECT {Columns} FROM signing_keys ORDER BY activates_at, created_at, purpose", transaction);
        List<SigningKeyRecord> keys = await ReadAllAsync(command, cancellationToken);
        SigningKeyRecord? revoked = keys.Find(k => k.KeyId == keyId);
        if (revoked is null)
            return new KeyRevocationResult(KeyRevocationStatus.NotFound);
        if (revoked.RevokedAt is not null)
            return new KeyRevocationResult(KeyRevocationStatus.AlreadyRevoked);

        command.CommandText = """
            UPDATE signing_keys SET revoked_at = @at, retired_at = CASE WHEN retired_at IS NULL OR retired_at > @at THEN @at ELSE retired_at END
            WHERE kid = @kid
            """;
        command.Add("@at", at).Add("@kid", keyId);
        await command.ExecuteNonQueryAsync(cancellationToken);
        if (revoked.ActivatesAt > at)
        {
            // A pending key revoked before it signs: the keys its rotation scheduled to stop at its activation sign on.
            command.CommandText = "UPDATE signing_keys SET retired_at = NULL WHERE retired_at = @activates AND revoked_at IS NULL AND purpose = @purpose";
            command.Add("@activates", revoked.ActivatesAt).Add("@purpose", revoked.Purpose);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        // Keys stand in for each other within a purpose: an id-token key never starts signing access tokens, nor the reverse.
        List<SigningKeyRecord> others = keys.FindAll(k => k.KeyId != keyId && k.RevokedAt is null && k.Purpose == revoked.Purpose);
        KeyRevocationResult result;
        if (others.Any(k => k.ActivatesAt <= at && (k.RetiredAt is null || k.RetiredAt > at)))
        {
            result = new KeyRevocationResult(KeyRevocationStatus.Revoked);
        }
        else if (others.Where(k => k.ActivatesAt > at && (k.RetiredAt is null || k.RetiredAt > k.ActivatesAt)).MinBy(k => k.ActivatesAt) is { } pending)
        {
            // Published already, so verifiers may have it; it signs from now, and nothing is scheduled to stop at its old time.
            command.CommandText = "UPDATE signing_keys SET activates_at = @at WHERE kid = @pending";
            command.Add("@pending", pending.KeyId);
            await command.ExecuteNonQueryAsync(cancellationToken);
            result = new KeyRevocationResult(KeyRevocationStatus.RevokedPendingKeySignsNow, pending.KeyId);
        }
        else
        {
            command.CommandText = InsertSql;
            KeyParameters(command, replacement with { ActivatesAt = at, Purpose = revoked.Purpose });
            await command.ExecuteNonQueryAsync(cancellationToken);
            result = new KeyRevocationResult(KeyRevocationStatus.RevokedReplacementAdded, replacement.KeyId);
        }

        command.CommandText = SqlRevocationStore.UpsertSql(database);
        command.AddRevocation(Revocation.Of(RevocationKinds.Key, keyId, at));
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return result;
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
        await using DbCommand command = connection.CreateCommand("SELECT COUNT(*) FROM signing_keys WHERE created_at > @since AND purpose = @purpose", transaction);
        KeyParameters(command, key);
        if (unlessCreatedAfter is { } since)
        {
            command.Add("@since", since);
            if (Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken)) > 0)
                return false;
        }

        command.CommandText = InsertSql;
        await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = """
            UPDATE signing_keys SET retired_at = @activates
            WHERE kid <> @kid AND purpose = @purpose AND (retired_at IS NULL OR retired_at > @activates)
            """;
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
        .Add("@activates", key.ActivatesAt)
        .Add("@purpose", key.Purpose);
}
