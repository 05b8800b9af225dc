using System.Data.Common;
using System.Text.RegularExpressions;
using Latchkey.Storage.Postgres;
using Latchkey.Storage.Sql;
using Latchkey.Storage.Sqlite;
using Latchkey.Testing;

namespace Latchkey.Tests.Storage;

/// <summary>
/// SQLite and PostgreSQL are one schema (<see cref="Schema"/>) in two sets of type names (<see cref="SchemaTypes"/>):
/// these tests fail when the two drift apart, in the SQL each provider runs or in the tables it builds.
/// </summary>
public sealed class SchemaDriftTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Migrations_OfBothProviders_DifferOnlyInTheirTypeNames()
    {
        string[] sqlite = SqliteDatabase.Migrations;
        string[] postgres = PostgresDatabase.Migrations;

        Assert.Equal(sqlite.Length, postgres.Length);
        for (int i = 0; i < sqlite.Length; i++)
            Assert.Equal(WithTypeNamesAsPlaceholders(sqlite[i], SqliteDatabase.SchemaTypes), WithTypeNamesAsPlaceholders(postgres[i], PostgresDatabase.SchemaTypes));
    }

    [Fact]
    public async Task LatestSchemaVersion_IsTheNumberOfMigrations()
    {
        // Neither opens its database until asked to.
        await using var postgres = new PostgresDatabase("Host=127.0.0.1;Database=unused");

        Assert.Equal(SqliteDatabase.Migrations.Length, new SqliteDatabase(Path.GetTempPath()).LatestSchemaVersion);
        Assert.Equal(PostgresDatabase.Migrations.Length, postgres.LatestSchemaVersion);
    }

    /// <summary>
    /// Both providers migrated from empty, then read back from their catalogs: the same tables, columns, keys and indexes,
    /// once PostgreSQL's type names are put in SQLite's words. Skipped when PostgreSQL is not installed.
    /// </summary>
    [Fact]
    public async Task Migrated_SqliteAndPostgres_HaveTheSameTablesColumnsKeysAndIndexes()
    {
        string connectionString = await PostgresCluster.CreateDatabaseAsync(Ct);
        string folder = Directory.CreateTempSubdirectory("latchkey-schema-").FullName;
        try
        {
            var sqlite = new SqliteDatabase(folder);
            await using var postgres = new PostgresDatabase(connectionString);
            await sqlite.MigrateAsync(Ct);
            await postgres.MigrateAsync(Ct);

            IReadOnlyList<string> sqliteSchema = await DescribeAsync(sqlite);
            IReadOnlyList<string> postgresSchema = await DescribeAsync(postgres);

            // Each kind of line is there: a catalog query that found nothing on both sides would compare equal.
            Assert.Contains("column audit_events.id INTEGER IDENTITY", sqliteSchema);
            Assert.Contains("primary key revocations (kind, id)", sqliteSchema);
            Assert.Contains("unique users (username)", sqliteSchema);
            Assert.Contains("foreign key refresh_tokens (family_id) references refresh_families (family_id) on delete CASCADE", sqliteSchema);
            Assert.Contains("index ix_refresh_tokens_sealed on refresh_tokens (sealed_until) partial", sqliteSchema);
            Assert.Contains("rows clients: 1", sqliteSchema);
            Assert.Equal(string.Join('\n', sqliteSchema), string.Join('\n', postgresSchema));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
            await PostgresCluster.DropDatabaseAsync(connectionString);
        }
    }

    /// <summary>PostgreSQL's catalog spells a text default <c>'x'::text</c>, where SQLite's keeps the <c>'x'</c> of the migration.</summary>
    private static string WithoutTextCast(string defaultValue) =>
        defaultValue.EndsWith("'::text", StringComparison.Ordinal) ? defaultValue[..^"::text".Length] : defaultValue;

    /// <summary>The SQL with each of the provider's type names replaced by the name of its <see cref="SchemaTypes"/> property.</summary>
    private static string WithTypeNamesAsPlaceholders(string sql, SchemaTypes types)
    {
        // The longer words first: they hold the integer type's name. The two spellings of the clock are one clock.
        sql = sql.Replace(types.NowMillisecondsOfDefaultClient, "{NowMilliseconds}", StringComparison.Ordinal)
            .Replace(types.NowMilliseconds, "{NowMilliseconds}", StringComparison.Ordinal)
            .Replace(types.IdentityKey, "{IdentityKey}", StringComparison.Ordinal);
        sql = Regex.Replace(sql, $@"\b{Regex.Escape(types.Bytes)}\b", "{Bytes}");
        return Regex.Replace(sql, $@"\b{Regex.Escape(types.Integer)}\b", "{Integer}");
    }

    // ---- SQLite's catalog ---------------------------------------------------------------------------------------------------

    /// <summary>The schema as sorted lines of text, read from SQLite's catalog (<c>sqlite_master</c> and its pragmas).</summary>
    private static async Task<IReadOnlyList<string>> DescribeAsync(SqliteDatabase database)
    {
        await using DbConnection connection = await database.OpenAsync(Ct);
        var lines = new List<string>();
        // schema_version is SqlDatabase's own table, made before any migration runs; sqlite_sequence is AUTOINCREMENT's.
        foreach ((string table, string sql) in await QueryAsync(connection,
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_version'",
            r => (r.GetString(0), r.GetString(1))))
        {
            lines.Add($"table {table}");
            lines.Add($"rows {table}: {await CountAsync(connection, table)}");

            var columns = await QueryAsync(connection, "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(@table) ORDER BY pk, cid",
                r => (Name: r.GetString(0), Type: r.GetString(1), NotNull: r.GetInt64(2) != 0, Default: r.IsDBNull(3) ? null : r.GetString(3), Key: r.GetInt64(4)),
                ("@table", table));
            string[] primaryKey = [.. columns.Where(c => c.Key > 0).Select(c => c.Name)];
            // AUTOINCREMENT can only follow INTEGER PRIMARY KEY: it is the table's one key column.
            bool identity = sql.Contains("AUTOINCREMENT", StringComparison.OrdinalIgnoreCase);
            foreach (var column in columns)
                lines.Add(Column(table, column.Name, column.Type, column.NotNull, column.Default, column.Key > 0, identity && column.Key > 0));
            if (primaryKey.Length > 0)
                lines.Add($"primary key {table} ({string.Join(", ", primaryKey)})");

            foreach (var key in (await QueryAsync(connection, "SELECT id, \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(@table) ORDER BY id, seq",
                r => (Id: r.GetInt64(0), From: r.GetString(1), Table: r.GetString(2), To: r.GetString(3), OnDelete: r.GetString(4)), ("@table", table))).GroupBy(k => k.Id))
            {
                lines.Add($"foreign key {table} ({string.Join(", ", key.Select(k => k.From))}) references {key.First().Table} " +
                    $"({string.Join(", ", key.Select(k => k.To))}) on delete {key.First().OnDelete}");
            }

            foreach (var index in await QueryAsync(connection, "SELECT name, \"unique\", origin, partial FROM pragma_index_list(@table)",
                r => (Name: r.GetString(0), Unique: r.GetInt64(1) != 0, Origin: r.GetString(2), Partial: r.GetInt64(3) != 0), ("@table", table)))
            {
                string[] indexColumns = [.. await QueryAsync(connection, "SELECT name FROM pragma_index_info(@index) ORDER BY seqno", r => r.GetString(0), ("@index", index.Name))];
                // "pk": the primary key's own index, already described; "u": a UNIQUE constraint's, which SQLite names itself.
                if (index.Origin == "u")
                    lines.Add($"unique {table} ({string.Join(", ", indexColumns)})");
                else if (index.Origin == "c")
                    lines.Add(Index(index.Name, table, indexColumns, index.Unique, index.Partial));
            }
        }

        return Sorted(lines);
    }

    // ---- PostgreSQL's catalog -----------------------------------------------------------------------------------------------

    /// <summary>PostgreSQL's names for the types of <see cref="Schema"/>, in SQLite's words: any other name stays apart and shows.</summary>
    private static readonly Dictionary<string, string> SqliteTypeOf = new(StringComparer.Ordinal)
    {
        ["text"] = "TEXT",
        ["bigint"] = "INTEGER",
        ["bytea"] = "BLOB",
    };

    /// <summary>The key columns of a pg_constraint or pg_index row, in order, as a text array.</summary>
    private static string ColumnNames(string attnums, string relation) =>
        $"ARRAY(SELECT a.attname FROM unnest({attnums}) WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = {relation} AND a.attnum = k.attnum ORDER BY k.n)::text[]";

    /// <summary>The schema as sorted lines of text, read from PostgreSQL's catalog, in the words of <see cref="DescribeAsync(SqliteDatabase)"/>.</summary>
    private static async Task<IReadOnlyList<string>> DescribeAsync(PostgresDatabase database)
    {
        await using DbConnection connection = await database.OpenAsync(Ct);
        var lines = new List<string>();
        foreach (string table in await QueryAsync(connection,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_version'",
            r => r.GetString(0)))
        {
            lines.Add($"table {table}");
            lines.Add($"rows {table}: {await CountAsync(connection, table)}");
        }

        string[] primaryKeyColumns = [.. await QueryAsync(connection, $"""
            SELECT t.relname || '.' || k.column_name
            FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid, unnest({ColumnNames("c.conkey", "c.conrelid")}) AS k(column_name)
            WHERE c.contype = 'p' AND t.relnamespace = to_regnamespace(current_schema())
            """, r => r.GetString(0))];
        foreach (var column in await QueryAsync(connection, """
            SELECT table_name, column_name, data_type, is_nullable = 'NO', column_default, is_identity = 'YES'
            FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> 'schema_version'
            """,
            r => (Table: r.GetString(0), Name: r.GetString(1), Type: r.GetString(2), NotNull: r.GetBoolean(3), Default: r.IsDBNull(4) ? null : WithoutTextCast(r.GetString(4)), Identity: r.GetBoolean(5))))
        {
            string type = SqliteTypeOf.TryGetValue(column.Type, out string? sqliteType) ? sqliteType : "PostgreSQL " + column.Type;
            lines.Add(Column(column.Table, column.Name, type, column.NotNull, column.Default, primaryKeyColumns.Contains($"{column.Table}.{column.Name}"), column.Identity));
        }

        foreach (var constraint in await QueryAsync(connection, $"""
            SELECT c.contype::text, t.relname::text, {ColumnNames("c.conkey", "c.conrelid")}, r.relname::text, {ColumnNames("c.confkey", "c.confrelid")},
                CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END
            FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid LEFT JOIN pg_class r ON r.oid = c.confrelid
            WHERE c.contype IN ('p', 'u', 'f') AND t.relnamespace = to_regnamespace(current_schema()) AND t.relname <> 'schema_version'
            """,
            r => (Type: r.GetString(0), Table: r.GetString(1), Columns: r.GetFieldValue<string[]>(2), References: r.IsDBNull(3) ? null : r.GetString(3),
                ReferencedColumns: r.GetFieldValue<string[]>(4), OnDelete: r.IsDBNull(5) ? null : r.GetString(5))))
        {
            string columns = string.Join(", ", constraint.Columns);
            lines.Add(constraint.Type switch
            {
                "p" => $"primary key {constraint.Table} ({columns})",
                "u" => $"unique {constraint.Table} ({columns})",
                _ => $"foreign key {constraint.Table} ({columns}) references {constraint.References} ({string.Join(", ", constraint.ReferencedColumns)}) on delete {constraint.OnDelete}",
            });
        }

        // The indexes of primary keys and UNIQUE constraints are described with their constraints.
        foreach (var index in await QueryAsync(connection, $"""
            SELECT i.relname::text, t.relname::text, {ColumnNames("x.indkey::int2[]", "x.indrelid")}, x.indisunique, x.indpred IS NOT NULL
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relnamespace = to_regnamespace(current_schema()) AND t.relname <> 'schema_version'
                AND x.indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE contype IN ('p', 'u'))
            """,
            r => (Name: r.GetString(0), Table: r.GetString(1), Columns: r.GetFieldValue<string[]>(2), Unique: r.GetBoolean(3), Partial: r.GetBoolean(4))))
        {
            lines.Add(Index(index.Name, index.Table, index.Columns, index.Unique, index.Partial));
        }

        return Sorted(lines);
    }

    // ---- The lines both describe -------------------------------------------------------------------------------------------

    /// <summary>
    /// A column. Nullability only outside the primary key: a key column is NOT NULL on PostgreSQL, while SQLite, for
    /// compatibility with its old versions, lets a key that is not INTEGER hold NULL unless told otherwise.
    /// </summary>
    private static string Column(string table, string name, string type, bool notNull, string? defaultValue, bool inPrimaryKey, bool identity) =>
        $"column {table}.{name} {type}" + (!inPrimaryKey && notNull ? " NOT NULL" : "") + (defaultValue is null ? "" : $" DEFAULT {defaultValue}") +
        (identity ? " IDENTITY" : "");

    private static string Index(string name, string table, IEnumerable<string> columns, bool unique, bool partial) =>
        $"{(unique ? "unique index" : "index")} {name} on {table} ({string.Join(", ", columns)})" + (partial ? " partial" : "");

    private static string[] Sorted(List<string> lines) => [.. lines.Order(StringComparer.Ordinal)];

    private static async Task<long> CountAsync(DbConnection connection, string table) =>
        (await QueryAsync(connection, $"SELECT COUNT(*) FROM {table}", r => r.GetInt64(0)))[0];

    private static async Task<List<T>> QueryAsync<T>(DbConnection connection, string sql, Func<DbDataReader, T> read, params (string Name, string Value)[] parameters)
    {
        await using DbCommand command = connection.CreateCommand(sql);
        foreach ((string name, string value) in parameters)
            command.Add(name, value);
        await using DbDataReader reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<T>();
        while (await reader.ReadAsync(Ct))
            rows.Add(read(reader));
        return rows;
    }
}
