using Microsoft.Data.Sqlite;

namespace Latchkey.Storage.Sqlite;

internal sealed class SqliteRefreshTokenStore(SqliteDatabase database) : IRefreshTokenStore
{
    public async Task AddFamilyAsync(RefreshFamilyRecord family, RefreshTokenRecord first, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        await using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO refresh_families (family_id, user_id, client_id, created_at, absolute_expires_at, revoked_at)
            VALUES ($family, $user, $client, $created, $absolute, NULL)
            """;
        command.Parameters.AddWithValue("$family", family.FamilyId);
        command.Parameters.AddWithValue("$user", family.UserId);
        command.Parameters.AddWithValue("$client", family.ClientId);
        command.Parameters.AddWithValue("$created", family.CreatedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$absolute", family.AbsoluteExpiresAt.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
        await InsertTokenAsync(connection, transaction, first, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<RefreshTokenLookup?> FindAsync(string tokenHash, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = """
            SELECT t.token_hash, t.family_id, t.client_id, t.user_id, t.scope, t.created_at, t.expires_at, t.spent_at,
                   f.created_at, f.absolute_expires_at, f.revoked_at
            FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id
            WHERE t.token_hash = $hash
            """;
        command.Parameters.AddWithValue("$hash", tokenHash);
        await using SqliteDataReader r = await command.ExecuteReaderAsync(cancellationToken);
        if (!await r.ReadAsync(cancellationToken))
            return null;
        var token = new RefreshTokenRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
            Time(r.GetInt64(5)), Time(r.GetInt64(6)), r.IsDBNull(7) ? null : Time(r.GetInt64(7)));
        var family = new RefreshFamilyRecord(token.FamilyId, token.UserId, token.ClientId, Time(r.GetInt64(8)), Time(r.GetInt64(9)),
            r.IsDBNull(10) ? null : Time(r.GetInt64(10)));
        return new RefreshTokenLookup(token, family);
    }

    public async Task<RefreshConsumeResult> TryConsumeRefreshTokenAsync(string tokenHash, RefreshTokenRecord successor, byte[] sealedSuccessor,
        DateTimeOffset now, TimeSpan reuseWindow, CancellationToken cancellationToken)
    {
        long nowMs = now.ToUnixTimeMilliseconds();
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        // BEGIN IMMEDIATE: the read and the write below happen under one write lock, so concurrent presentations of
        // one token are serialized and each sees what the one before it wrote.
        await using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        await using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.Parameters.AddWithValue("$hash", tokenHash);
        command.Parameters.AddWithValue("$now", nowMs);

        // Sealed successors are kept for the window only.
        command.CommandText = "UPDATE refresh_tokens SET sealed_successor = NULL, sealed_until = NULL WHERE sealed_until IS NOT NULL AND sealed_until <= $now";
        await command.ExecuteNonQueryAsync(cancellationToken);

        command.CommandText = """
            SELECT t.family_id, t.expires_at, t.spent_at, t.sealed_successor, f.absolute_expires_at, f.revoked_at
            FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id
            WHERE t.token_hash = $hash
            """;
        string familyId;
        long expiresAt, absoluteExpiresAt;
        bool spent, revoked;
        byte[]? sealedEarlier;
        await using (SqliteDataReader r = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await r.ReadAsync(cancellationToken))
                return new RefreshConsumeResult(RefreshConsumeStatus.NotFound);
            familyId = r.GetString(0);
            expiresAt = r.GetInt64(1);
            spent = !r.IsDBNull(2);
            sealedEarlier = r.IsDBNull(3) ? null : (byte[])r.GetValue(3);
            absoluteExpiresAt = r.GetInt64(4);
            revoked = !r.IsDBNull(5);
        }

        command.Parameters.AddWithValue("$family", familyId);
        if (revoked)
            return new RefreshConsumeResult(RefreshConsumeStatus.Revoked, FamilyId: familyId);

        if (spent)
        {
            if (sealedEarlier is not null)
                return new RefreshConsumeResult(RefreshConsumeStatus.Replayed, sealedEarlier, familyId);

            // RFC 9700 §4.14.2: a spent token presented again means two parties hold it. We cannot tell the thief from
            // the user, so the whole family goes, the successor included.
            await RevokeFamilyAsync(command, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return new RefreshConsumeResult(RefreshConsumeStatus.ReuseDetected, FamilyId: familyId);
        }

        if (expiresAt <= nowMs || absoluteExpiresAt <= nowMs)
            return new RefreshConsumeResult(RefreshConsumeStatus.Expired, FamilyId: familyId);

        bool keepSealed = reuseWindow > TimeSpan.Zero;
        command.CommandText = "UPDATE refresh_tokens SET spent_at = $now, sealed_successor = $sealed, sealed_until = $until WHERE token_hash = $hash";
        command.Parameters.AddWithValue("$sealed", keepSealed ? sealedSuccessor : DBNull.Value);
        command.Parameters.AddWithValue("$until", keepSealed ? (now + reuseWindow).ToUnixTimeMilliseconds() : DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await InsertTokenAsync(connection, transaction, successor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new RefreshConsumeResult(RefreshConsumeStatus.Consumed, FamilyId: familyId);
    }

    public async Task<bool> RevokeFamilyAsync(string familyId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        await using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.Parameters.AddWithValue("$family", familyId);
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        bool revoked = await RevokeFamilyAsync(command, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return revoked;
    }

    public Task<int> RevokeFamiliesOfUserAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken) =>
        RevokeFamiliesWhereAsync("user_id", userId, now, cancellationToken);

    public Task<int> RevokeFamiliesOfClientAsync(string clientId, DateTimeOffset now, CancellationToken cancellationToken) =>
        RevokeFamiliesWhereAsync("client_id", clientId, now, cancellationToken);

    private async Task<int> RevokeFamiliesWhereAsync(string column, string value, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        await using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.Parameters.AddWithValue("$value", value);
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        command.CommandText = $"""
            UPDATE refresh_tokens SET sealed_successor = NULL, sealed_until = NULL
            WHERE family_id IN (SELECT family_id FROM refresh_families WHERE {column} = $value AND revoked_at IS NULL)
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = $"UPDATE refresh_families SET revoked_at = $now WHERE {column} = $value AND revoked_at IS NULL";
        int families = await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return families;
    }

    /// <summary>Revokes the family named by <c>$family</c> and drops its sealed successors; inside the caller's transaction.</summary>
    private static async Task<bool> RevokeFamilyAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        command.CommandText = "UPDATE refresh_tokens SET sealed_successor = NULL, sealed_until = NULL WHERE family_id = $family";
        await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = "UPDATE refresh_families SET revoked_at = $now WHERE family_id = $family AND revoked_at IS NULL";
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static async Task InsertTokenAsync(SqliteConnection connection, SqliteTransaction transaction, RefreshTokenRecord token, CancellationToken cancellationToken)
    {
        await using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at, spent_at, sealed_successor, sealed_until)
            VALUES ($hash, $family, $client, $user, $scope, $created, $expires, NULL, NULL, NULL)
            """;
        command.Parameters.AddWithValue("$hash", token.TokenHash);
        command.Parameters.AddWithValue("$family", token.FamilyId);
        command.Parameters.AddWithValue("$client", token.ClientId);
        command.Parameters.AddWithValue("$user", token.UserId);
        command.Parameters.AddWithValue("$scope", (object?)token.Scope ?? DBNull.Value);
        command.Parameters.AddWithValue("$created", token.CreatedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$expires", token.ExpiresAt.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
