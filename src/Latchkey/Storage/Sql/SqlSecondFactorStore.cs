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
            INSERT INTO code_attempts (user_id, failures, last_failure_at) VALUES (@user, 1, @at)
            ON CONFLICT (user_id) DO UPDATE SET failures = code_attempts.failures + 1, last_failure_at = @at
            WHERE code_attempts.failures < @max OR code_attempts.last_failure_at <= @since
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
        await using DbCommand command = connection.CreateCommand("DELETE FROM code_attempts WHERE user_id = @user").Add("@user", userId);
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
        command.CommandText = "DELETE FROM passkeys WHERE user_id = @user";
        removed += await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = "DELETE FROM code_attempts WHERE user_id = @user";
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return removed;
    }

    private const string PasskeyColumns = "credential_id, user_id, name, public_key, sign_count, backup_eligible, backed_up, transports, created_at, last_used_at";

    public async Task<bool> AddPasskeyAsync(PasskeyRecord passkey, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"""
            INSERT INTO passkeys ({PasskeyColumns}) VALUES (@id, @user, @name, @key, @count, @eligible, @backed, @transports, @at, NULL)
            ON CONFLICT (credential_id) DO NOTHING
            """)
            .Add("@id", passkey.CredentialId)
            .Add("@user", passkey.UserId)
            .Add("@name", passkey.Name)
            .Add("@key", passkey.PublicKey)
            .Add("@count", (long)passkey.SignCount)
            .Add("@eligible", passkey.BackupEligible ? 1L : 0L)
            .Add("@backed", passkey.BackedUp ? 1L : 0L)
            .Add("@transports", passkey.Transports)
            .Add("@at", passkey.CreatedAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<PasskeyRecord?> FindPasskeyAsync(byte[] credentialId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"SELECT {PasskeyColumns} FROM passkeys WHERE credential_id = @id").Add("@id", credentialId);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadPasskey(reader) : null;
    }

    public async Task<IReadOnlyList<PasskeyRecord>> ListPasskeysAsync(string userId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"SELECT {PasskeyColumns} FROM passkeys WHERE user_id = @user ORDER BY created_at, name")
            .Add("@user", userId);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var passkeys = new List<PasskeyRecord>();
        while (await reader.ReadAsync(cancellationToken))
            passkeys.Add(ReadPasskey(reader));
        return passkeys;
    }

    public async Task<bool> UsePasskeyAsync(byte[] credentialId, uint storedCount, uint newCount, bool backedUp, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand(
                "UPDATE passkeys SET sign_count = @new, backed_up = @backed, last_used_at = @at WHERE credential_id = @id AND sign_count = @stored")
            .Add("@id", credentialId)
            .Add("@stored", (long)storedCount)
            .Add("@new", (long)newCount)
            .Add("@backed", backedUp ? 1L : 0L)
            .Add("@at", at);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> RenamePasskeyAsync(string userId, byte[] credentialId, string name, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("UPDATE passkeys SET name = @name WHERE credential_id = @id AND user_id = @user")
            .Add("@id", credentialId)
            .Add("@user", userId)
            .Add("@name", name);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> RemovePasskeyAsync(string userId, byte[] credentialId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("DELETE FROM passkeys WHERE credential_id = @id AND user_id = @user")
            .Add("@id", credentialId)
            .Add("@user", userId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> UseChallengeAsync(string challenge, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        // Expired challenges are refused before they get here: their rows are no longer needed.
        await using (DbCommand purge = connection.CreateCommand("DELETE FROM used_challenges WHERE expires_at < @now").Add("@now", now))
            await purge.ExecuteNonQueryAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand(
                "INSERT INTO used_challenges (challenge, expires_at) VALUES (@challenge, @expires) ON CONFLICT (challenge) DO NOTHING")
            .Add("@challenge", challenge)
            .Add("@expires", expiresAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static PasskeyRecord ReadPasskey(DbDataReader reader) =>
        new((byte[])reader.GetValue(0), reader.GetString(1), reader.GetString(2), (byte[])reader.GetValue(3), (uint)reader.GetInt64(4), reader.GetInt64(5) != 0,
            reader.GetInt64(6) != 0, reader.GetString(7), reader.GetTime(8), reader.GetTimeOrNull(9));
}
