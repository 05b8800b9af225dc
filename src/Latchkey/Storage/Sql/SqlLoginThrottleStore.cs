using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlLoginThrottleStore(SqlDatabase database) : ILoginThrottleStore
{
    private const string LockColumns = "kind, lock_key, subject, address, started_at, until_at, refused";

    // The window counts, read again once an attempt is counted: the same two subqueries as ReadAsync's.
    private const string WindowCountsSql = """
        SELECT
          (SELECT COUNT(*) FROM login_attempts WHERE user_key = @user AND at > @user_since),
          (SELECT MIN(at) FROM login_attempts WHERE user_key = @user AND at > @user_since),
          (SELECT COUNT(*) FROM login_attempts WHERE address = @address AND at > @address_since),
          (SELECT MIN(at) FROM login_attempts WHERE address = @address AND at > @address_since)
        """;

    public async Task<LoginThrottleCounts> ReadAsync(string userKey, string address, DateTimeOffset usernameWindowStart, DateTimeOffset addressWindowStart,
        DateTimeOffset knownSince, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            SELECT
              (SELECT failures FROM login_streaks WHERE user_key = @user AND address = @address),
              (SELECT last_failure_at FROM login_streaks WHERE user_key = @user AND address = @address),
              (SELECT COUNT(*) FROM login_attempts WHERE user_key = @user AND at > @user_since),
              (SELECT MIN(at) FROM login_attempts WHERE user_key = @user AND at > @user_since),
              (SELECT COUNT(*) FROM login_attempts WHERE address = @address AND at > @address_since),
              (SELECT MIN(at) FROM login_attempts WHERE address = @address AND at > @address_since),
              (SELECT COUNT(*) FROM login_known_addresses WHERE user_key = @user AND address = @address AND last_success_at > @known_since)
            """)
            .Add("@user", userKey)
            .Add("@address", address)
            .Add("@user_since", usernameWindowStart)
            .Add("@address_since", addressWindowStart)
            .Add("@known_since", knownSince);
        await using DbDataReader r = await command.ExecuteReaderAsync(cancellationToken);
        await r.ReadAsync(cancellationToken);
        return new LoginThrottleCounts(
            StreakFailures: r.IsDBNull(0) ? 0 : (int)r.GetInt64(0),
            StreakLastFailureAt: r.GetTimeOrNull(1),
            UsernameFailures: (int)r.GetInt64(2),
            UsernameOldestFailure: r.GetTimeOrNull(3),
            AddressFailures: (int)r.GetInt64(4),
            AddressOldestFailure: r.GetTimeOrNull(5),
            KnownAddress: r.GetInt64(6) > 0);
    }

    public async Task<LoginAttempt> StartAttemptAsync(string userKey, string address, DateTimeOffset at, DateTimeOffset usernameWindowStart,
        DateTimeOffset addressWindowStart, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        // The streak's counter increments in SQL under its row's lock, so concurrent attempts of one pair (on any node) each
        // get their own number.
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO login_streaks (user_key, address, failures, last_failure_at) VALUES (@user, @address, 1, @at)
            ON CONFLICT (user_key, address) DO UPDATE SET failures = login_streaks.failures + 1, last_failure_at = @at
            RETURNING failures
            """, transaction)
            .Add("@user", userKey)
            .Add("@address", address)
            .Add("@at", at)
            .Add("@user_since", usernameWindowStart)
            .Add("@address_since", addressWindowStart);
        int streak = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
        command.CommandText = "INSERT INTO login_attempts (user_key, address, at) VALUES (@user, @address, @at) RETURNING id";
        long id = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken));
        command.CommandText = WindowCountsSql;
        LoginAttempt attempt;
        await using (DbDataReader r = await command.ExecuteReaderAsync(cancellationToken))
        {
            await r.ReadAsync(cancellationToken);
            attempt = new LoginAttempt(id, streak, (int)r.GetInt64(0), r.GetTimeOrNull(1), (int)r.GetInt64(2), r.GetTimeOrNull(3));
        }

        await transaction.CommitAsync(cancellationToken);
        return attempt;
    }

    public async Task AttemptSucceededAsync(long attemptId, string userKey, string address, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            DELETE FROM login_attempts WHERE id = @id;
            DELETE FROM login_streaks WHERE user_key = @user AND address = @address;
            INSERT INTO login_known_addresses (user_key, address, last_success_at) VALUES (@user, @address, @at)
            ON CONFLICT (user_key, address) DO UPDATE SET last_success_at = @at;
            """, transaction)
            .Add("@id", attemptId)
            .Add("@user", userKey)
            .Add("@address", address)
            .Add("@at", at);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<(bool Started, LoginLock? Ended)> HoldLockAsync(LoginLock hold, DateTimeOffset now, bool refused, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand(
            $"SELECT {LockColumns} FROM login_locks WHERE kind = @kind AND lock_key = @key{database.ForUpdate}", transaction)
            .Add("@kind", hold.Kind)
            .Add("@key", hold.Key)
            .Add("@subject", hold.Subject)
            .Add("@address", hold.Address)
            .Add("@started", hold.StartedAt)
            .Add("@until", hold.Until)
            .Add("@refused", refused ? 1L : 0L);
        LoginLock? existing;
        await using (DbDataReader r = await command.ExecuteReaderAsync(cancellationToken))
            existing = await r.ReadAsync(cancellationToken) ? ReadLock(r) : null;

        (bool Started, LoginLock? Ended) outcome;
        if (existing is { } held && held.Until > now)
        {
            command.CommandText = """
                UPDATE login_locks SET refused = refused + @refused, until_at = CASE WHEN until_at < @until THEN @until ELSE until_at END
                WHERE kind = @kind AND lock_key = @key
                """;
            await command.ExecuteNonQueryAsync(cancellationToken);
            outcome = (false, null);
        }
        else
        {
            if (existing is not null)
            {
                command.CommandText = "DELETE FROM login_locks WHERE kind = @kind AND lock_key = @key";
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            // Another node may have started this very lock since the SELECT (PostgreSQL has no row to lock yet): then it
            // reports the start, and this one only extends it.
            command.CommandText = $"""
                INSERT INTO login_locks ({LockColumns}) VALUES (@kind, @key, @subject, @address, @started, @until, @refused)
                ON CONFLICT (kind, lock_key) DO UPDATE SET refused = login_locks.refused + @refused,
                  until_at = CASE WHEN excluded.until_at > login_locks.until_at THEN excluded.until_at ELSE login_locks.until_at END
                RETURNING started_at
                """;
            bool startedHere = await command.ExecuteScalarAsync(cancellationToken) is { } started and not DBNull &&
                               Convert.ToInt64(started) == hold.StartedAt.ToUnixTimeMilliseconds();
            outcome = (startedHere, existing);
        }

        await transaction.CommitAsync(cancellationToken);
        return outcome;
    }

    public async Task<IReadOnlyList<LoginLock>> TakeEndedLocksAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        // DELETE … RETURNING: a lock two nodes sweep at once is returned to one of them only, so it is reported once.
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"""
            DELETE FROM login_locks WHERE (kind, lock_key) IN (SELECT kind, lock_key FROM login_locks WHERE until_at <= @now LIMIT @limit)
            RETURNING {LockColumns}
            """)
            .Add("@now", now)
            .Add("@limit", (long)limit);
        await using DbDataReader r = await command.ExecuteReaderAsync(cancellationToken);
        var ended = new List<LoginLock>();
        while (await r.ReadAsync(cancellationToken))
            ended.Add(ReadLock(r));
        return ended;
    }

    public async Task<int> PurgeAsync(DateTimeOffset attemptsBefore, DateTimeOffset streaksBefore, DateTimeOffset knownBefore, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("DELETE FROM login_attempts WHERE at <= @attempts").Add("@attempts", attemptsBefore);
        int deleted = await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = "DELETE FROM login_streaks WHERE last_failure_at <= @streaks";
        command.Add("@streaks", streaksBefore);
        deleted += await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = "DELETE FROM login_known_addresses WHERE last_success_at <= @known";
        command.Add("@known", knownBefore);
        return deleted + await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static LoginLock ReadLock(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetStringOrNull(3), r.GetTime(4), r.GetTime(5), r.GetInt64(6));
}
