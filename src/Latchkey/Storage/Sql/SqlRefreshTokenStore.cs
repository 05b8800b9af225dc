using System.Data.Common;

namespace Latchkey.Storage.Sql;

/// <summary>
/// Refresh-token families. Every change to a family's tokens first locks the family's row (SQLite: the whole
/// database, by <c>BEGIN IMMEDIATE</c>; PostgreSQL: <c>SELECT … FOR UPDATE</c>), so concurrent presentations of one
/// token, on one node or several, are serialized and each sees what the one before it committed.
/// </summary>
internal sealed class SqlRefreshTokenStore(SqlDatabase database) : IRefreshTokenStore
{
    public async Task AddFamilyAsync(RefreshFamilyRecord family, RefreshTokenRecord first, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO refresh_families (family_id, user_id, client_id, created_at, absolute_expires_at, revoked_at)
            VALUES (@family, @user, @client, @created, @absolute, NULL)
            """, transaction)
            .Add("family", family.FamilyId)
            .Add("user", family.UserId)
            .Add("client", family.ClientId)
            .Add("created", family.CreatedAt)
            .Add("absolute", family.AbsoluteExpiresAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await InsertTokenAsync(transaction, first, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<RefreshTokenLookup?> FindAsync(string tokenHash, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            SELECT t.token_hash, t.family_id, t.client_id, t.user_id, t.scope, t.created_at, t.expires_at, t.spent_at,
                   f.created_at, f.absolute_expires_at, f.revoked_at
            FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id
            WHERE t.token_hash = @hash
            """)
            .Add("hash", tokenHash);
        await using DbDataReader r = await command.ExecuteReaderAsync(cancellationToken);
        if (!await r.ReadAsync(cancellationToken))
            return null;
        var token = new RefreshTokenRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetStringOrNull(4),
            r.GetTime(5), r.GetTime(6), r.GetTimeOrNull(7));
        var family = new RefreshFamilyRecord(token.FamilyId, token.UserId, token.ClientId, r.GetTime(8), r.GetTime(9), r.GetTimeOrNull(10));
        return new RefreshTokenLookup(token, family);
    }

    public async Task<RefreshConsumeResult> TryConsumeRefreshTokenAsync(string tokenHash, RefreshTokenRecord successor, byte[] sealedSuccessor,
        DateTimeOffset now, TimeSpan reuseWindow, CancellationToken cancellationToken)
    {
        long nowMs = now.ToUnixTimeMilliseconds();
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand("SELECT family_id FROM refresh_tokens WHERE token_hash = @hash", transaction)
            .Add("hash", tokenHash)
            .Add("now", now);
        if (await command.ExecuteScalarAsync(cancellationToken) is not string familyId)
            return new RefreshConsumeResult(RefreshConsumeStatus.NotFound);
        command.Add("family", familyId);

        // Lock the family first. Only then read the token: on PostgreSQL a statement that starts after the lock is
        // granted sees everything the previous holder committed (READ COMMITTED), so a second presentation sees "spent".
        command.CommandText = "SELECT absolute_expires_at, revoked_at FROM refresh_families WHERE family_id = @family" + database.ForUpdate;
        long absoluteExpiresAt;
        bool revoked;
        await using (DbDataReader r = await command.ExecuteReaderAsync(cancellationToken))
        {
            await r.ReadAsync(cancellationToken);
            absoluteExpiresAt = r.GetInt64(0);
            revoked = !r.IsDBNull(1);
        }

        if (revoked)
            return new RefreshConsumeResult(RefreshConsumeStatus.Revoked, FamilyId: familyId);

        command.CommandText = "SELECT expires_at, spent_at, sealed_successor, sealed_until FROM refresh_tokens WHERE token_hash = @hash";
        long expiresAt;
        bool spent;
        byte[]? sealedEarlier;
        await using (DbDataReader r = await command.ExecuteReaderAsync(cancellationToken))
        {
            await r.ReadAsync(cancellationToken);
            expiresAt = r.GetInt64(0);
            spent = !r.IsDBNull(1);
            // A sealed successor counts only within its window, whether or not it has been swept yet.
            sealedEarlier = r.IsDBNull(2) || r.IsDBNull(3) || r.GetInt64(3) <= nowMs ? null : (byte[])r.GetValue(2);
        }

        // Sealed successors are kept for the window only: each refresh sweeps some expired ones, of any family. Rows
        // another transaction holds are skipped (never waited for), so two sweeps can never deadlock.
        command.CommandText = $"""
            UPDATE refresh_tokens SET sealed_successor = NULL, sealed_until = NULL
            WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE sealed_until <= @now LIMIT 100{database.ForUpdateSkipLocked})
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);

        if (spent)
        {
            if (sealedEarlier is not null)
            {
                await transaction.CommitAsync(cancellationToken);
                return new RefreshConsumeResult(RefreshConsumeStatus.Replayed, sealedEarlier, familyId);
            }

            // RFC 9700 §4.14.2: a spent token presented again means two parties hold it. We cannot tell the thief from
            // the user, so the whole family goes, the successor included.
            await RevokeLockedFamilyAsync(command, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return new RefreshConsumeResult(RefreshConsumeStatus.ReuseDetected, FamilyId: familyId);
        }

        if (expiresAt <= nowMs || absoluteExpiresAt <= nowMs)
        {
            await transaction.CommitAsync(cancellationToken);
            return new RefreshConsumeResult(RefreshConsumeStatus.Expired, FamilyId: familyId);
        }

        bool keepSealed = reuseWindow > TimeSpan.Zero;
        command.CommandText = "UPDATE refresh_tokens SET spent_at = @now, sealed_successor = @sealed, sealed_until = @until WHERE token_hash = @hash";
        command.Add("sealed", keepSealed ? sealedSuccessor : null);
        command.Add("until", keepSealed ? now + reuseWindow : (DateTimeOffset?)null);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await InsertTokenAsync(transaction, successor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new RefreshConsumeResult(RefreshConsumeStatus.Consumed, FamilyId: familyId);
    }

    public async Task<bool> RevokeFamilyAsync(string familyId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand("", transaction)
            .Add("family", familyId)
            .Add("now", now);
        bool revoked = await RevokeLockedFamilyAsync(command, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return revoked;
    }

    public Task<int> RevokeFamiliesOfUserAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken) =>
        RevokeFamiliesWhereAsync("user_id", userId, now, cancellationToken);

    public Task<int> RevokeFamiliesOfClientAsync(string clientId, DateTimeOffset now, CancellationToken cancellationToken) =>
        RevokeFamiliesWhereAsync("client_id", clientId, now, cancellationToken);

    private async Task<int> RevokeFamiliesWhereAsync(string column, string value, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // Families first, then their tokens: the order every writer here follows. Two revocations of overlapping sets of
        // families can still lock them in different orders; PostgreSQL then aborts one, which is simply tried again.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await using DbConnection connection = await database.OpenAsync(cancellationToken);
                await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
                await using DbCommand command = connection.CreateCommand(
                    $"UPDATE refresh_families SET revoked_at = @now WHERE {column} = @value AND revoked_at IS NULL", transaction)
                    .Add("value", value)
                    .Add("now", now);
                int families = await command.ExecuteNonQueryAsync(cancellationToken);
                command.CommandText = $"""
                    UPDATE refresh_tokens SET sealed_successor = NULL, sealed_until = NULL
                    WHERE sealed_until IS NOT NULL AND family_id IN (SELECT family_id FROM refresh_families WHERE {column} = @value)
                    """;
                await command.ExecuteNonQueryAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return families;
            }
            catch (DbException e) when (attempt < 3 && database.IsConflict(e))
            {
            }
        }
    }

    /// <summary>Revokes the family named by <c>@family</c> and drops its sealed successors; inside the caller's transaction.</summary>
    private async Task<bool> RevokeLockedFamilyAsync(DbCommand command, CancellationToken cancellationToken)
    {
        command.CommandText = "UPDATE refresh_families SET revoked_at = @now WHERE family_id = @family AND revoked_at IS NULL";
        bool revoked = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        // While we hold the family, a transaction holding one of its seals can only be another family's refresh sweeping
        // it, which clears it anyway: skip that row rather than wait. Waiting could deadlock: that refresh may itself be a
        // reuse detection waiting for a seal that our sweep took. A seal left behind is never served: the family is revoked.
        command.CommandText = $"""
            UPDATE refresh_tokens SET sealed_successor = NULL, sealed_until = NULL
            WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE family_id = @family AND sealed_until IS NOT NULL{database.ForUpdateSkipLocked})
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);
        return revoked;
    }

    private static async Task InsertTokenAsync(DbTransaction transaction, RefreshTokenRecord token, CancellationToken cancellationToken)
    {
        await using DbCommand command = transaction.Connection!.CreateCommand("""
            INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at, spent_at, sealed_successor, sealed_until)
            VALUES (@hash, @family, @client, @user, @scope, @created, @expires, NULL, NULL, NULL)
            """, transaction)
            .Add("hash", token.TokenHash)
            .Add("family", token.FamilyId)
            .Add("client", token.ClientId)
            .Add("user", token.UserId)
            .Add("scope", token.Scope)
            .Add("created", token.CreatedAt)
            .Add("expires", token.ExpiresAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
