using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlUserStore(SqlDatabase database) : IUserStore
{
    private const string Columns = "id, username, password_hash, roles, disabled, created_at, password_changed_at, tokens_valid_after, email, email_verified, " +
        "display_name";

    /// <summary>The columns <see cref="Read"/> reads, each prefixed with <paramref name="alias"/>, for queries that join users.</summary>
    internal static string ColumnsOf(string alias) => string.Join(", ", Columns.Split(", ").Select(c => alias + "." + c));

    public Task<UserRecord?> FindByUsernameAsync(string username, CancellationToken cancellationToken) =>
        FindAsync("username", username, cancellationToken);

    public Task<UserRecord?> FindByIdAsync(string id, CancellationToken cancellationToken) =>
        FindAsync("id", id, cancellationToken);

    private async Task<UserRecord?> FindAsync(string column, string value, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"SELECT {Columns} FROM users WHERE {column} = @value").Add("@value", value);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<UserRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand($"SELECT {Columns} FROM users ORDER BY username{database.OrdinalCollation}");
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var users = new List<UserRecord>();
        while (await reader.ReadAsync(cancellationToken))
            users.Add(Read(reader));
        return users;
    }

    public async Task<bool> TryAddAsync(UserRecord user, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        // ON CONFLICT DO NOTHING: two concurrent adds of one name cannot both succeed, and neither throws.
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO users (id, username, password_hash, roles, disabled, created_at, password_changed_at, tokens_valid_after, email, email_verified,
              display_name)
            VALUES (@id, @username, @hash, @roles, @disabled, @created, @changed, @cut, @email, @email_verified, @name)
            ON CONFLICT (username) DO NOTHING
            """)
            .Add("@id", user.Id)
            .Add("@username", user.Username)
            .Add("@hash", user.PasswordHash)
            .Add("@roles", StoredJson.Write(user.Roles))
            .Add("@disabled", user.Disabled ? 1L : 0L)
            .Add("@created", user.CreatedAt)
            .Add("@changed", user.PasswordChangedAt)
            .Add("@cut", user.TokensValidAfter)
            .Add("@email", user.Email)
            .Add("@email_verified", user.EmailVerified ? 1L : 0L)
            .Add("@name", user.Name);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<UserUpdate?> UpdateAsync(string username, Func<UserRecord, UserRecord> change, Revocation? cutOff, CancellationToken cancellationToken)
    {
        // Under the row's lock: add/remove of roles on one user never lose an update.
        (UserRecord Before, UserRecord After)? update = await LockedUpdate.RunAsync(database, $"SELECT {Columns} FROM users WHERE username = @id", username,
            reader => Read(reader),
            before => change(before) with
            {
                Id = before.Id,
                Username = before.Username,
                CreatedAt = before.CreatedAt,
                TokensValidAfter = cutOff?.At ?? before.TokensValidAfter,
            },
            """
            UPDATE users SET password_hash = @hash, roles = @roles, disabled = @disabled, password_changed_at = @changed, tokens_valid_after = @cut,
              email = @email, email_verified = @email_verified, display_name = @name
            WHERE id = @user_id
            """,
            (command, after) => command.Add("@hash", after.PasswordHash)
                .Add("@roles", StoredJson.Write(after.Roles))
                .Add("@disabled", after.Disabled ? 1L : 0L)
                .Add("@changed", after.PasswordChangedAt)
                .Add("@cut", after.TokensValidAfter)
                .Add("@email", after.Email)
                .Add("@email_verified", after.EmailVerified ? 1L : 0L)
                .Add("@name", after.Name)
                .Add("@user_id", after.Id),
            cutOff, cancellationToken);
        return update is { } u ? new UserUpdate(u.Before, u.After) : null;
    }

    public async Task ExtendCutOffAsync(Revocation cutOff, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            UPDATE users SET tokens_valid_after = @cut WHERE id = @id AND (tokens_valid_after IS NULL OR tokens_valid_after < @cut)
            """, transaction)
            .Add("@cut", cutOff.At)
            .Add("@id", cutOff.Id);
        await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = SqlRevocationStore.UpsertSql(database);
        command.AddRevocation(cutOff);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public Task<bool> TryUpgradePasswordHashAsync(string username, string expectedHash, string newHash, CancellationToken cancellationToken) =>
        UpdateAsync("password_hash = @value WHERE username = @username AND password_hash = @expected", username,
            c => c.Add("@value", newHash).Add("@expected", expectedHash), cancellationToken);

    private async Task<bool> UpdateAsync(string setAndWhere, string username, Action<DbCommand> parameters, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("UPDATE users SET " + setAndWhere).Add("@username", username);
        parameters(command);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Reads a user from <see cref="Columns"/>, starting at column <paramref name="first"/>.</summary>
    internal static UserRecord Read(DbDataReader reader, int first = 0) => new(
        Id: reader.GetString(first),
        Username: reader.GetString(first + 1),
        PasswordHash: reader.GetString(first + 2),
        Roles: StoredJson.ReadList(reader.GetString(first + 3)),
        Disabled: reader.GetInt64(first + 4) != 0,
        CreatedAt: reader.GetTime(first + 5),
        PasswordChangedAt: reader.GetTime(first + 6),
        TokensValidAfter: reader.GetTimeOrNull(first + 7))
    {
        Email = reader.GetStringOrNull(first + 8),
        EmailVerified = reader.GetInt64(first + 9) != 0,
        Name = reader.GetStringOrNull(first + 10),
    };
}
