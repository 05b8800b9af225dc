using Microsoft.Data.Sqlite;

namespace Latchkey.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file, <c>latchkey.db</c>, in the data folder. WAL mode lets the CLI write
/// while the server reads; a busy timeout makes concurrent writers wait instead of failing.
/// </summary>
public sealed class SqliteDatabase
{
    public const string FileName = "latchkey.db";

    public SqliteDatabase(string dataDirectory)
    {
        Path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dataDirectory, FileName));
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    public string ConnectionString { get; }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using (SqliteCommand pragma = connection.CreateCommand())
        {
            // foreign_keys and busy_timeout are per connection; journal_mode=WAL persists in the file.
            pragma.CommandText = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
        }

        return connection;
    }
}
