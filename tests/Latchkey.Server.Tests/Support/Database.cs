using Microsoft.Data.Sqlite;
using Xunit;

namespace Latchkey.Server.Tests.Support;

/// <summary>Reads latchkey.db directly, to check what was stored rather than what the CLI says was stored.</summary>
internal static class Database
{
    public static async Task<List<object?[]>> QueryAsync(string path, string sql)
    {
        await using SqliteConnection connection = await OpenAsync(path);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var rows = new List<object?[]>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            var row = new object?[reader.FieldCount];
            for (int i = 0; i < row.Length; i++)
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(row);
        }

        return rows;
    }

    public static async Task ExecuteAsync(string path, string sql)
    {
        await using SqliteConnection connection = await OpenAsync(path);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    private static async Task<SqliteConnection> OpenAsync(string path)
    {
        // No pooling: the file must be released when the test deletes its folder.
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString();
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        return connection;
    }
}
