using System.Data.Common;
using System.Text;
using Latchkey.Storage.Sql;

namespace Latchkey.Tests.Support;

/// <summary>
/// Reads a test server's database directly, through its own <see cref="SqlDatabase"/> (SQLite or PostgreSQL alike), to
/// check what was stored rather than what the API says was stored.
/// </summary>
public static class StoredRows
{
    /// <summary>The first column of the first row of <paramref name="sql"/> (<c>@name</c> parameters), or null.</summary>
    public static async Task<object?> ScalarAsync(this LatchkeyTestServer server, string sql, params (string Name, object Value)[] parameters)
    {
        await using DbConnection connection = await Database(server).OpenAsync(CancellationToken.None);
        await using DbCommand command = Command(connection, sql, parameters);
        object? value = await command.ExecuteScalarAsync();
        return value is DBNull ? null : value;
    }

    /// <summary>
    /// True when some value in some table holds <paramref name="text"/> (as text, or as ASCII bytes in a blob): for
    /// checking that a secret was never stored, whatever the column.
    /// </summary>
    public static async Task<bool> AnyValueContainsAsync(this LatchkeyTestServer server, string text)
    {
        SqlDatabase database = Database(server);
        await using DbConnection connection = await database.OpenAsync(CancellationToken.None);
        var tables = new List<string>();
        await using (DbCommand list = Command(connection, database.Provider == "SQLite"
            ? "SELECT name FROM sqlite_master WHERE type = 'table'"
            : "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()", []))
        await using (DbDataReader reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                tables.Add(reader.GetString(0));
        }

        Assert.Contains("refresh_tokens", tables);
        byte[] bytes = Encoding.ASCII.GetBytes(text);
        foreach (string table in tables)
        {
            await using DbCommand select = Command(connection, $"SELECT * FROM {table}", []);
            await using DbDataReader reader = await select.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                for (int i = 0; i < reader.FieldCount; i++)
                {
                    bool found = reader.GetValue(i) switch
                    {
                        string s => s.Contains(text, StringComparison.Ordinal),
                        byte[] b => b.AsSpan().IndexOf(bytes) >= 0,
                        _ => false,
                    };
                    if (found)
                        return true;
                }
            }
        }

        return false;
    }

    private static SqlDatabase Database(LatchkeyTestServer server) => server.Services.GetRequiredService<SqlDatabase>();

    private static DbCommand Command(DbConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        DbCommand command = connection.CreateCommand();
        command.CommandText = sql;
        foreach ((string name, object value) in parameters)
        {
            DbParameter parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
