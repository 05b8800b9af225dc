using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Latchkey.Storage.Sqlite;

internal sealed class SqliteUserStore(SqliteDatabase database) : IUserStore
{
    private const string Columns = "id, username, password_hash, roles, disabled, created_at, password_changed_at";

    public async Task<UserRecord?> FindByUsernameAsync(string username, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM users WHERE username = $username";
        command.Parameters.AddWithValue("$username", username);
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<UserRecord?> FindByIdAsync(string id, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM users WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<UserRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM users ORDER BY username";
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var users = new List<UserRecord>();
        while (await reader.ReadAsync(cancellationToken))
            users.Add(Read(reader));
        return users;
    }

    public async Task<bool> TryAddAsync(UserRecord user, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        // ON CONFLICT DO NOTHING: two concurrent adds of one name cannot both succeed, and neither throws.
        command.CommandText = """
            INSERT INTO users (id, username, password_hash, roles, disabled, created_at, password_changed_at)
            VALUES ($id, $username, $hash, $roles, $disabled, $created, $changed)
            ON CONFLICT (username) DO NOTHING
            """;
        command.Parameters.AddWithValue("$id", user.Id);
        command.Parameters.AddWithValue("$username", user.Username);
        command.Parameters.AddWithValue("$hash", user.PasswordHash);
        command.Parameters.AddWithValue("$roles", JsonSerializer.Serialize(user.Roles));
        command.Parameters.AddWithValue("$disabled", user.Disabled ? 1 : 0);
        command.Parameters.AddWithValue("$created", user.CreatedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$changed", user.PasswordChangedAt.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public Task<bool> SetPasswordHashAsync(string username, string passwordHash, DateTimeOffset changedAt, CancellationToken cancellationToken) =>
        UpdateAsync("password_hash = $value, password_changed_at = $changed WHERE username = $username", username, passwordHash,
            ("$changed", changedAt.ToUnixTimeMilliseconds()), cancellationToken);

    public Task<bool> TryUpgradePasswordHashAsync(string username, string expectedHash, string newHash, CancellationToken cancellationToken) =>
        UpdateAsync("password_hash = $value WHERE username = $username AND password_hash = $expected", username, newHash,
            ("$expected", expectedHash), cancellationToken);

    public Task<bool> SetDisabledAsync(string username, bool disabled, CancellationToken cancellationToken) =>
        UpdateAsync("disabled = $value WHERE username = $username", username, disabled ? 1 : 0, null, cancellationToken);

    public Task<bool> SetRolesAsync(string username, IReadOnlyList<string> roles, CancellationToken cancellationToken) =>
        UpdateAsync("roles = $value WHERE username = $username", username, JsonSerializer.Serialize(roles), null, cancellationToken);

    private async Task<bool> UpdateAsync(string setAndWhere, string username, object value, (string Name, object Value)? extra, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await database.OpenAsync(cancellationToken);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "UPDATE users SET " + setAndWhere;
        command.Parameters.AddWithValue("$username", username);
        command.Parameters.AddWithValue("$value", value);
        if (extra is { } e)
            command.Parameters.AddWithValue(e.Name, e.Value);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static UserRecord Read(SqliteDataReader reader) => new(
        Id: reader.GetString(0),
        Username: reader.GetString(1),
        PasswordHash: reader.GetString(2),
        Roles: JsonSerializer.Deserialize<string[]>(reader.GetString(3)) ?? [],
        Disabled: reader.GetInt64(4) != 0,
        CreatedAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
        PasswordChangedAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)));
}
