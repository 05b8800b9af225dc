using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlSettingsStore(SqlDatabase database) : ISettingsStore
{
    public async Task<string> GetOrAddAsync(string name, string value, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        // The first writer wins; everyone after reads what it wrote.
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO settings (name, value) VALUES (@name, @value) ON CONFLICT (name) DO NOTHING;
            SELECT value FROM settings WHERE name = @name;
            """)
            .Add("@name", name)
            .Add("@value", value);
        return (string)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
