using Latchkey.Storage.Postgres;
using Latchkey.Storage.Sql;
using Latchkey.Storage.Sqlite;

namespace Latchkey.Storage;

/// <summary>Picks the database from the options: PostgreSQL when <see cref="LatchkeyOptions.Database"/> names one, else SQLite in the data folder.</summary>
public static class LatchkeyDatabase
{
    public static SqlDatabase Create(LatchkeyOptions options) =>
        string.IsNullOrWhiteSpace(options.Database)
            ? new SqliteDatabase(options.DataDirectory)
            : new PostgresDatabase(options.Database);
}
