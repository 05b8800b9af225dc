using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlLoginFailureStore(SqlDatabase database) : ILoginFailureStore
{
    public async Task<LoginFailureCounts> GetAsync(string userKey, string addressKey, DateTimeOffset windowStart, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            SELECT
              (SELECT failures FROM login_failures_by_user WHERE user_key = @user),
              (SELECT last_failure_at FROM login_failures_by_user WHERE user_key = @user),
              (SELECT COUNT(*) FROM login_failures_by_address WHERE address = @address AND failed_at > @since),
              (SELECT MIN(failed_at) FROM login_failures_by_address WHERE address = @address AND failed_at > @since)
            """)
            .Add("@user", userKey)
            .Add("@address", addressKey)
            .Add("@since", windowStart);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new LoginFailureCounts(
            UserFailures: reader.IsDBNull(0) ? 0 : (int)reader.GetInt64(0),
            UserLastFailureAt: reader.GetTimeOrNull(1),
            AddressFailuresInWindow: (int)reader.GetInt64(2),
            OldestAddressFailureInWindow: reader.GetTimeOrNull(3));
    }

    public async Task RecordFailureAsync(string userKey, string addressKey, DateTimeOffset at, DateTimeOffset windowStart, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        // The counter increments in SQL, so concurrent failures (on any node) are all counted; old address rows are pruned as we go.
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO login_failures_by_user (user_key, failures, last_failure_at) VALUES (@user, 1, @at)
            ON CONFLICT (user_key) DO UPDATE SET failures = login_failures_by_user.failures + 1, last_failure_at = @at;
            INSERT INTO login_failures_by_address (address, failed_at) VALUES (@address, @at);
            DELETE FROM login_failures_by_address WHERE address = @address AND failed_at <= @since;
            """, transaction)
            .Add("@user", userKey)
            .Add("@address", addressKey)
            .Add("@at", at)
            .Add("@since", windowStart);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<int> CountUserAttemptAsync(string userKey, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO login_failures_by_user (user_key, failures, last_failure_at) VALUES (@user, 1, @at)
            ON CONFLICT (user_key) DO UPDATE SET failures = login_failures_by_user.failures + 1, last_failure_at = @at
            RETURNING failures
            """)
            .Add("@user", userKey)
            .Add("@at", at);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
    }

    public async Task RecordAddressFailureAsync(string addressKey, DateTimeOffset at, DateTimeOffset windowStart, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO login_failures_by_address (address, failed_at) VALUES (@address, @at);
            DELETE FROM login_failures_by_address WHERE address = @address AND failed_at <= @since;
            """, transaction)
            .Add("@address", addressKey)
            .Add("@at", at)
            .Add("@since", windowStart);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task ResetUserAsync(string userKey, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("DELETE FROM login_failures_by_user WHERE user_key = @user").Add("@user", userKey);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
