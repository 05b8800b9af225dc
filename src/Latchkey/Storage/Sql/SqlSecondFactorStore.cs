using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlSecondFactorStore(SqlDatabase database) : ISecondFactorStore
{
    public async Task<TotpFactorRecord?> FindTotpAsync(string userId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand(
            "SELECT user_id, secret, created_at, confirmed_at, last_step, last_used_at FROM totp_factors WHERE user_id = @user").Add("@user", userId);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        return new TotpFactorRecord(reader.GetString(0), (byte[])reader.GetValue(1), reader.GetTime(2), reader.GetTimeOrNull(3), reader.GetInt64(4),
            reader.GetTimeOrNull(5));
    }

    public async Task<bool> BeginTotpAsync(TotpFactorRecord factor, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO totp_factors (user_id, secret, created_at, confirmed_at, last_step, last_used_at) VALUES (@user, @secret, @at, NULL, 0, NULL)
            ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0
            WHERE totp_factors.confirmed_at IS NULL
            """)
            .Add("@user", factor.UserId)
            .Add("@secret", factor.ProtectedSecret)
            .Add("@at", factor.CreatedAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> UseTotpStepAsync(string userId, long step, bool confirming, DateTimeOffset at, CancellationToken cancellationToken,
        DateTimeOffset? enrolledAt = null)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        // Confirming: only the enrolment whose key was checked (a new one begun meanwhile has another created_at).
        await using DbCommand command = connection.CreateCommand(confirming
                ? "UPDATE totp_factors SET last_step = @step, last_used_at = @at, confirmed_at = @at WHERE user_id = @user AND confirmed_at IS NULL AND last_step < @step AND created_at = @enrolled"
                : "UPDATE totp_factors SET last_step = @step, last_used_at = @at WHERE user_id = @user AND confirmed_at IS NOT NULL AND last_step < @step")
            .Add("@user", userId)
            .Add("@step", step)
            .Add("@at", at)
            .Add("@enrolled", enrolledAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<long?> StartCodeAttemptAsync(string userId, int max, DateTimeOffset lockedSince, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            UPDATE totp_factors SET failures = failures + 1, last_failure_at = @at
            WHERE user_id = @user AND (failures < @max OR last_failure_at IS NULL OR last_failure_at <= @since)
            RETURNING failures
            """)
            .Add("@user", userId)
            .Add("@max", (long)max)
            .Add("@since", lockedSince)
            .Add("@at", at);
        return await command.ExecuteScalarAsync(cancellationToken) is { } failures and not DBNull ? Convert.ToInt64(failures, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    public async Task ClearFailuresAsync(string userId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("UPDATE totp_factors SET failures = 0 WHERE user_id = @user").Add("@user", userId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> RemoveTotpAsync(string userId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("DELETE FROM totp_factors WHERE user_id = @user").Add("@user", userId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task ReplaceRecoveryCodesAsync(string userId, IReadOnlyList<string> codeHashes, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand("DELETE FROM recovery_codes WHERE user_id = @user", transaction).Add("@user", userId);
        await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = "INSERT INTO recovery_codes (user_id, code_hash, created_at, used_at) VALUES (@user, @hash, @at, NULL)";
        command.Add("@at", at);
        foreach (string hash in codeHashes)
        {
            command.Add("@hash", hash);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<bool> UseRecoveryCodeAsync(string userId, string codeHash, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand(
                "UPDATE recovery_codes SET used_at = @at WHERE user_id = @user AND code_hash = @hash AND used_at IS NULL")
            .Add("@user", userId)
            .Add("@hash", codeHash)
            .Add("@at", at);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<int> CountUnusedRecoveryCodesAsync(string userId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("SELECT COUNT(*) FROM recovery_codes WHERE user_id = @user AND used_at IS NULL")
            .Add("@user", userId);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<int> RemoveAllAsync(string userId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand("DELETE FROM totp_factors WHERE user_id = @user", transaction).Add("@user", userId);
        int removed = await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = "DELETE FROM recovery_codes WHERE user_id = @user";
        removed += await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return removed;
    }
}
