using System.Data.Common;

namespace Latchkey.Storage.Sql;

/// <summary>
/// Refresh-token families. Every change to a family's tokens first locks the family's row (SQLite: the whole
/// database, by <c>BEGIN IMMEDIATE</c>; PostgreSQL: <c>SELECT … FOR UPDATE</c>), so concurrent presentations of one
/// token, on one node or several, are serialized and each sees what the one before it committed. Rotations are
/// committed in groups (<see cref="RotationGroupCommit"/>).
/// </summary>
internal sealed class SqlRefreshTokenStore : IRefreshTokenStore, IDisposable
{
    private readonly SqlDatabase _database;

    /// <summary>Where rotations go: they are committed in groups.</summary>
    private readonly RotationGroupCommit _groupCommit;

    /// <summary>The lookup every refresh request starts with.</summary>
    private readonly PreparedQuery _find;

    // The statements of a rotation, built once: the same text each time is also what prepared statements key on
    // (PostgreSQL's, and TransactionCommands within a group commit).
    private static readonly string FindSql = $"""
        SELECT t.token_hash, t.family_id, t.client_id, t.user_id, t.scope, t.created_at, t.expires_at, t.spent_at,
               f.created_at, f.absolute_expires_at, f.revoked_at, f.amr, {SqlUserStore.ColumnsOf("u")}
        FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id LEFT JOIN users u ON u.id = t.user_id
        WHERE t.token_hash = @hash
        """;

    // Under the family's lock, the token. A rotation runs these two as one command (one round trip); a batch of rotations
    // (PostgreSQL) runs them as two statements of the batch, which PostgreSQL executes the same way.
    private readonly string _lockFamilySql;

    private const string ReadTokenSql =
        "SELECT expires_at, spent_at, sealed_successor, sealed_until FROM refresh_tokens WHERE token_hash = @hash AND family_id = @family";

    private readonly string _lockFamilyThenReadTokenSql;

    private const string SpendSql =
        "UPDATE refresh_tokens SET spent_at = @now, sealed_successor = @sealed, sealed_until = @until WHERE token_hash = @hash";

    private const string SpendAndInsertSuccessorSql = $"""
        {SpendSql};
        {InsertToken}
        """;

    private const string RevokeFamilySql = "UPDATE refresh_families SET revoked_at = @now WHERE family_id = @family AND revoked_at IS NULL";

    private readonly string _dropSealsOfLockedFamilySql;

    private readonly string _upsertRevocationSql;

    public SqlRefreshTokenStore(SqlDatabase database)
    {
        _database = database;
        _lockFamilySql = $"SELECT absolute_expires_at, revoked_at FROM refresh_families WHERE family_id = @family{database.ForUpdate}";
        _lockFamilyThenReadTokenSql = $"""
            {_lockFamilySql};
            {ReadTokenSql}
            """;
        _dropSealsOfLockedFamilySql = $"""
            UPDATE refresh_tokens SET sealed_successor = NULL, sealed_until = NULL
            WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE family_id = @family AND sealed_until IS NOT NULL{database.ForUpdateSkipLocked})
            """;
        _upsertRevocationSql = SqlRevocationStore.UpsertSql(database);
        _groupCommit = new RotationGroupCommit(database, RotateGroupAsync);
        _find = new PreparedQuery(database, FindSql);
    }

    public void Dispose()
    {
        _groupCommit.Dispose();
        _find.Dispose();
    }

    public async Task AddFamilyAsync(RefreshFamilyRecord family, RefreshTokenRecord first, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await _database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await _database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand($"""
            INSERT INTO refresh_families (family_id, user_id, client_id, created_at, absolute_expires_at, revoked_at, session_id, amr)
            VALUES (@family, @user, @client, @created, @absolute, NULL, @session, @amr);
            {InsertToken}
            """, transaction)
            .Add("@family", family.FamilyId)
            .Add("@user", family.UserId)
            .Add("@client", family.ClientId)
            .Add("@created", family.CreatedAt)
            .Add("@absolute", family.AbsoluteExpiresAt)
            .Add("@session", family.SessionId)
            .Add("@amr", family.Amr)
            .AddToken(first);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public Task<RefreshTokenLookup?> FindAsync(string tokenHash, CancellationToken cancellationToken) =>
        _find.ReadAsync(command => command.Add("@hash", tokenHash), ReadLookupAsync, cancellationToken);

    private static async Task<RefreshTokenLookup?> ReadLookupAsync(DbDataReader r, CancellationToken cancellationToken)
    {
        if (!await r.ReadAsync(cancellationToken))
            return null;
        var token = new RefreshTokenRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetStringOrNull(4),
            r.GetTime(5), r.GetTime(6), r.GetTimeOrNull(7));
        var family = new RefreshFamilyRecord(token.FamilyId, token.UserId, token.ClientId, r.GetTime(8), r.GetTime(9), r.GetTimeOrNull(10))
        {
            Amr = r.GetString(11),
        };
        UserRecord? user = r.IsDBNull(12) ? null : SqlUserStore.Read(r, first: 12);
        return new RefreshTokenLookup(token, family, user);
    }

    public Task<RefreshConsumeResult> TryConsumeRefreshTokenAsync(string tokenHash, RefreshTokenRecord successor, byte[] sealedSuccessor,
        DateTimeOffset now, TimeSpan reuseWindow, CancellationToken cancellationToken) =>
        _groupCommit.RotateAsync(new RefreshRotation(tokenHash, successor, sealedSuccessor, now, reuseWindow), cancellationToken);

    /// <summary>
    /// A group's rotations, inside its write transaction, in order. Where the provider runs batches (PostgreSQL), and no
    /// two rotations share a family, the group takes two round trips, not two per rotation: one batch locks every family
    /// and reads every token, the next writes what each rotation decided. Rotations that share a family go one by one:
    /// each must see what the one before it wrote.
    /// </summary>
    private async Task<RefreshConsumeResult[]> RotateGroupAsync(TransactionCommands commands, IReadOnlyList<RefreshRotation> rotations,
        CancellationToken cancellationToken)
    {
        var results = new RefreshConsumeResult[rotations.Count];
        if (!commands.CanBatch || rotations.DistinctBy(rotation => rotation.Successor.FamilyId).Count() < rotations.Count)
        {
            for (int i = 0; i < rotations.Count; i++)
                results[i] = await RotateAsync(commands, rotations[i], cancellationToken);
            return results;
        }

        var writes = new RotationWrite[rotations.Count];
        await using (DbBatch reads = commands.CreateBatch())
        {
            foreach (RefreshRotation rotation in rotations)
            {
                reads.Add(commands.For(_lockFamilySql).Add("@family", rotation.Successor.FamilyId));
                reads.Add(commands.For(ReadTokenSql).Add("@hash", rotation.TokenHash).Add("@family", rotation.Successor.FamilyId));
            }

            await using DbDataReader r = await reads.ExecuteReaderAsync(cancellationToken);
            for (int i = 0; i < rotations.Count; i++)
            {
                (results[i], writes[i]) = Decide(await ReadLockedTokenAsync(r, rotations[i], cancellationToken), rotations[i]);
                await r.NextResultAsync(cancellationToken);
            }
        }

        await using DbBatch batch = commands.CreateBatch();
        for (int i = 0; i < rotations.Count; i++)
        {
            RefreshRotation rotation = rotations[i];
            if (writes[i] == RotationWrite.SpendAndInsertSuccessor)
            {
                batch.Add(commands.For(SpendSql).AddSpend(rotation));
                batch.Add(commands.For(InsertToken).AddToken(rotation.Successor));
            }
            else if (writes[i] == RotationWrite.RevokeFamily)
            {
                batch.Add(commands.For(RevokeFamilySql).Add("@family", rotation.Successor.FamilyId).Add("@now", rotation.Now));
                batch.Add(commands.For(_dropSealsOfLockedFamilySql).Add("@family", rotation.Successor.FamilyId));
                batch.Add(commands.For(_upsertRevocationSql).AddRevocation(FamilyRevocation(rotation.Successor.FamilyId, rotation.Now)));
            }
        }

        if (batch.BatchCommands.Count > 0)
            await batch.ExecuteNonQueryAsync(cancellationToken);
        return results;
    }

    /// <summary>One rotation, inside its group's write transaction: two round trips, on commands the group reuses.</summary>
    private async Task<RefreshConsumeResult> RotateAsync(TransactionCommands commands, RefreshRotation rotation, CancellationToken cancellationToken)
    {
        // Lock the family first, then read the token, in one round trip: the second statement starts only once the first
        // holds the lock, so on PostgreSQL (READ COMMITTED) it sees everything the previous holder committed, and a second
        // presentation of one token sees it spent.
        DbCommand read = commands.For(_lockFamilyThenReadTokenSql)
            .Add("@hash", rotation.TokenHash)
            .Add("@family", rotation.Successor.FamilyId);
        RefreshConsumeResult result;
        RotationWrite write;
        await using (DbDataReader r = await read.ExecuteReaderAsync(cancellationToken))
            (result, write) = Decide(await ReadLockedTokenAsync(r, rotation, cancellationToken), rotation);

        if (write == RotationWrite.SpendAndInsertSuccessor)
        {
            // Spend the token and store its successor: two statements, one round trip.
            await commands.For(SpendAndInsertSuccessorSql)
                .AddSpend(rotation)
                .AddToken(rotation.Successor)
                .ExecuteNonQueryAsync(cancellationToken);
        }
        else if (write == RotationWrite.RevokeFamily)
        {
            await RevokeLockedFamilyAsync(commands, rotation.Successor.FamilyId, rotation.Now, cancellationToken);
        }

        return result;
    }

    /// <summary>What a rotation found under its family's lock.</summary>
    private readonly record struct LockedToken(bool FamilyFound, bool Revoked, long AbsoluteExpiresAt, bool TokenFound, bool Spent, long ExpiresAt,
        byte[]? SealedSuccessor);

    /// <summary>What a rotation writes once it has decided.</summary>
    private enum RotationWrite { None, SpendAndInsertSuccessor, RevokeFamily }

    /// <summary>Reads the family's result, then the token's: the reader is left on the token's.</summary>
    private static async Task<LockedToken> ReadLockedTokenAsync(DbDataReader r, RefreshRotation rotation, CancellationToken cancellationToken)
    {
        bool familyFound = await r.ReadAsync(cancellationToken);
        bool revoked = familyFound && !r.IsDBNull(1);
        long absoluteExpiresAt = familyFound ? r.GetInt64(0) : 0;

        await r.NextResultAsync(cancellationToken);
        if (!await r.ReadAsync(cancellationToken))
            return new LockedToken(familyFound, revoked, absoluteExpiresAt, TokenFound: false, Spent: false, ExpiresAt: 0, SealedSuccessor: null);
        // A sealed successor counts only within its window, whether or not it has been swept yet.
        bool sealedNow = !r.IsDBNull(2) && !r.IsDBNull(3) && r.GetInt64(3) > rotation.Now.ToUnixTimeMilliseconds();
        return new LockedToken(familyFound, revoked, absoluteExpiresAt, TokenFound: true, Spent: !r.IsDBNull(1), ExpiresAt: r.GetInt64(0),
            SealedSuccessor: sealedNow ? (byte[])r.GetValue(2) : null);
    }

    /// <summary>The rules of a rotation, on what it found under its family's lock.</summary>
    private static (RefreshConsumeResult Result, RotationWrite Write) Decide(LockedToken found, RefreshRotation rotation)
    {
        long nowMs = rotation.Now.ToUnixTimeMilliseconds();
        string familyId = rotation.Successor.FamilyId;
        // The successor names the family the caller found the token in; a token not in it is unknown here.
        if (!found.FamilyFound || !found.TokenFound)
            return (new RefreshConsumeResult(RefreshConsumeStatus.NotFound), RotationWrite.None);
        if (found.Revoked)
            return (new RefreshConsumeResult(RefreshConsumeStatus.Revoked, FamilyId: familyId), RotationWrite.None);

        if (found.Spent)
        {
            if (found.SealedSuccessor is not null)
                return (new RefreshConsumeResult(RefreshConsumeStatus.Replayed, found.SealedSuccessor, familyId), RotationWrite.None);

            // RFC 9700 §4.14.2: a spent token presented again means two parties hold it. We cannot tell the thief from
            // the user, so the whole family goes, the successor included.
            return (new RefreshConsumeResult(RefreshConsumeStatus.ReuseDetected, FamilyId: familyId), RotationWrite.RevokeFamily);
        }

        if (found.ExpiresAt <= nowMs || found.AbsoluteExpiresAt <= nowMs)
            return (new RefreshConsumeResult(RefreshConsumeStatus.Expired, FamilyId: familyId), RotationWrite.None);

        return (new RefreshConsumeResult(RefreshConsumeStatus.Consumed, FamilyId: familyId), RotationWrite.SpendAndInsertSuccessor);
    }

    public async Task<int> DropExpiredSealsAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        // Rows another transaction holds are skipped (never waited for): a sweep waits for nothing, so it can never be
        // part of a deadlock.
        await using DbConnection connection = await _database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"""
            UPDATE refresh_tokens SET sealed_successor = NULL, sealed_until = NULL
            WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE sealed_until <= @now LIMIT @limit{_database.ForUpdateSkipLocked})
            """)
            .Add("@now", now)
            .Add("@limit", (long)limit);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> RevokeFamilyAsync(string familyId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await _database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await _database.BeginWriteAsync(connection, cancellationToken);
        await using var commands = new TransactionCommands(connection, transaction);
        bool revoked = await RevokeLockedFamilyAsync(commands, familyId, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return revoked;
    }

    public Task<IReadOnlyList<LiveFamily>> ListLiveFamiliesOfSessionAsync(string sessionId, CancellationToken cancellationToken) =>
        ListLiveFamiliesAsync("session_id = @a", sessionId, null, cancellationToken);

    public Task<IReadOnlyList<LiveFamily>> ListLiveFamiliesOfUserAndClientAsync(string userId, string clientId, CancellationToken cancellationToken) =>
        ListLiveFamiliesAsync("user_id = @a AND client_id = @b", userId, clientId, cancellationToken);

    private async Task<IReadOnlyList<LiveFamily>> ListLiveFamiliesAsync(string where, string a, string? b, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await _database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"SELECT family_id, client_id FROM refresh_families WHERE {where} AND revoked_at IS NULL")
            .Add("@a", a)
            .Add("@b", b);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var families = new List<LiveFamily>();
        while (await reader.ReadAsync(cancellationToken))
            families.Add(new LiveFamily(reader.GetString(0), reader.GetString(1)));
        return families;
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
                await using DbConnection connection = await _database.OpenAsync(cancellationToken);
                await using DbTransaction transaction = await _database.BeginWriteAsync(connection, cancellationToken);
                await using DbCommand command = connection.CreateCommand(
                    $"UPDATE refresh_families SET revoked_at = @now WHERE {column} = @value AND revoked_at IS NULL", transaction)
                    .Add("@value", value)
                    .Add("@now", now);
                int families = await command.ExecuteNonQueryAsync(cancellationToken);
                command.CommandText = $"""
                    UPDATE refresh_tokens SET sealed_successor = NULL, sealed_until = NULL
                    WHERE sealed_until IS NOT NULL AND family_id IN (SELECT family_id FROM refresh_families WHERE {column} = @value)
                    """;
                await command.ExecuteNonQueryAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return families;
            }
            catch (DbException e) when (attempt < 3 && _database.IsConflict(e))
            {
            }
        }
    }

    /// <summary>Revokes the family and drops its sealed successors; inside the caller's transaction.</summary>
    private async Task<bool> RevokeLockedFamilyAsync(TransactionCommands commands, string familyId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        bool revoked = await commands.For(RevokeFamilySql)
            .Add("@family", familyId)
            .Add("@now", now)
            .ExecuteNonQueryAsync(cancellationToken) == 1;
        // While we hold the family, a transaction holding one of its seals can only be a sweep of expired seals
        // (DropExpiredSealsAsync), which clears it anyway: skip that row rather than wait for it. A seal left behind is
        // never served: the family is revoked.
        await commands.For(_dropSealsOfLockedFamilySql)
            .Add("@family", familyId)
            .ExecuteNonQueryAsync(cancellationToken);
        // Every node refuses the login's access tokens (their sid) from its next sync of the revocations.
        if (revoked)
        {
            await commands.For(_upsertRevocationSql)
                .AddRevocation(FamilyRevocation(familyId, now))
                .ExecuteNonQueryAsync(cancellationToken);
        }

        return revoked;
    }

    private static Revocation FamilyRevocation(string familyId, DateTimeOffset now) => Revocation.Of(RevocationKinds.Family, familyId, now);

    public async Task<int> PurgeExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        // Families past their absolute lifetime, with every token they hold (ON DELETE CASCADE); then expired tokens of live
        // families, which nobody can use any more (a spent one presented again is then unknown rather than reuse: refused
        // either way). At most limit rows each, so that SQLite's one writer is held briefly.
        await using DbConnection connection = await _database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            DELETE FROM refresh_families WHERE family_id IN (SELECT family_id FROM refresh_families WHERE absolute_expires_at <= @now LIMIT @limit)
            """)
            .Add("@now", now)
            .Add("@limit", (long)limit);
        int deleted = await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE expires_at <= @now LIMIT @limit)";
        return deleted + await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Inserts the token whose parameters <see cref="AddToken"/> sets (<c>@t_…</c>).</summary>
    private const string InsertToken = """
        INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at, spent_at, sealed_successor, sealed_until)
        VALUES (@t_hash, @t_family, @t_client, @t_user, @t_scope, @t_created, @t_expires, NULL, NULL, NULL)
        """;
}

file static class RefreshTokenParameters
{
    /// <summary>The parameters of <c>SqlRefreshTokenStore.InsertToken</c>.</summary>
    public static DbCommand AddToken(this DbCommand command, RefreshTokenRecord token) => command
        .Add("@t_hash", token.TokenHash)
        .Add("@t_family", token.FamilyId)
        .Add("@t_client", token.ClientId)
        .Add("@t_user", token.UserId)
        .Add("@t_scope", token.Scope)
        .Add("@t_created", token.CreatedAt)
        .Add("@t_expires", token.ExpiresAt);

    /// <summary>The parameters of <c>SqlRefreshTokenStore.SpendSql</c>: the token is spent, its successor sealed for the reuse window.</summary>
    public static DbCommand AddSpend(this DbCommand command, RefreshRotation rotation) => command
        .Add("@hash", rotation.TokenHash)
        .Add("@now", rotation.Now)
        .Add("@sealed", rotation.KeepsSealed ? rotation.SealedSuccessor : null)
        .Add("@until", rotation.KeepsSealed ? rotation.Now + rotation.ReuseWindow : null);
}
