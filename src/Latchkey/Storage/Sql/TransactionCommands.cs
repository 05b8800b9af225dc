using System.Data.Common;

namespace Latchkey.Storage.Sql;

/// <summary>
/// The commands of one open transaction, by SQL text, each created on first use and kept: a command executed again with
/// new parameter values reuses its prepared statements (Microsoft.Data.Sqlite prepares once per command object, so a
/// new command for each execution would parse and plan the SQL every time).
/// </summary>
internal sealed class TransactionCommands(DbConnection connection, DbTransaction transaction) : IAsyncDisposable
{
    private readonly Dictionary<string, DbCommand> _commands = [];

    /// <summary>The command for <paramref name="sql"/>, with the parameter values of its last use: set them all again.</summary>
    public DbCommand For(string sql)
    {
        if (!_commands.TryGetValue(sql, out DbCommand? command))
            _commands[sql] = command = connection.CreateCommand(sql, transaction);
        return command;
    }

    /// <summary>True when the provider sends a batch of statements in one round trip (Npgsql; not Microsoft.Data.Sqlite).</summary>
    public bool CanBatch => connection.CanCreateBatch;

    /// <summary>
    /// An empty batch in this transaction, for statements whose parameters differ from one to the next: add each as
    /// <c>batch.Add(For(sql).Add(…))</c>, which copies the statement with the parameters set at that moment.
    /// </summary>
    public DbBatch CreateBatch()
    {
        DbBatch batch = connection.CreateBatch();
        batch.Transaction = transaction;
        return batch;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (DbCommand command in _commands.Values)
            await command.DisposeAsync();
    }
}
