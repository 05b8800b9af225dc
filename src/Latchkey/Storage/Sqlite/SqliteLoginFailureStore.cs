using Microsoft.Data.Sqlite;

namespace Latchkey.Storage.Sqlite;

internal sealed class SqliteLoginFailureStore(SqliteDatabase database) : ILoginFailureStore
{
    public async Task<LoginFailureCounts> GetAsync(string userKey, string addressKey, DateTimeOffset windowStart, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = """
            SELECT
              (SELECT failures FROM login_failures_by_user WHERE user_key = $user),
              (SELECT last_failure_at FROM login_failures_by_user WHERE user_key = $user),
              (SELECT COUNT(*) FROM login_failures_by_address WHERE address = $address AND failed_at > $since),
              (SELECT MIN(failed_at) FROM login_failures_by_address WHERE address = $address AND failed_at > $since)
            """;
        command.Parameters.AddWithValue("$user", userKey);
        command.Parameters.AddWithValue("$address", addressKey);
        command.Parameters.AddWithValue("$since", windowStart.ToUnixTimeMilliseconds());
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new LoginFailureCounts(
            UserFailures: reader.IsDBNull(0) ? 0 : (int)reader.GetInt64(0),
            UserLastFailureAt: reader.IsDBNull(1) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
            AddressFailuresInWindow: (int)reader.GetInt64(2),
            OldestAddressFailureInWindow: reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)));
    }

    public async Task RecordFailureAsync(string userKey, string addressKey, DateTimeOffset at, DateTimeOffset windowStart, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        // Microsoft.Data.Sqlite has no async BEGIN IMMEDIATE; the call is local and brief.
        await using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        await using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        // The counter increments in SQL, so concurrent failures are all counted; old address rows are pruned as we go.
        command.CommandText = """
            INSERT INTO login_failures_by_user (user_key, failures, last_failure_at) VALUES ($user, 1, $at)
            ON CONFLICT (user_key) DO UPDATE SET failures = failures + 1, last_failure_at = $at;
            INSERT INTO login_failures_by_address (address, failed_at) VALUES ($address, $at);
            DELETE FROM login_failures_by_address WHERE address = $address AND failed_at <= $since;
            """;
        command.Parameters.AddWithValue("$user", userKey);
        command.Parameters.AddWithValue("$address", addressKey);
        command.Parameters.AddWithValue("$at", at.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$since", windowStart.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task ResetUserAsync(string userKey, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "DELETE FROM login_failures_by_user WHERE user_key = $user";
        command.Parameters.AddWithValue("$user", userKey);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
