using System.Data;
using System.Data.Common;

namespace Latchkey.Storage.Sql;

/// <summary>
/// Parameters the way both providers read them: named <c>@name</c> as in the SQL, prefix included, and nulls typed
/// (PostgreSQL must know a null's type). Microsoft.Data.Sqlite looks a parameter up in each statement of a command by its
/// name; a name without its prefix costs three more lookups per statement (':', '@' and '$' in turn, each a native call
/// with the name converted to UTF-8): 5% of a refresh-token rotation's CPU before the names carried it. Npgsql strips
/// the prefix.
/// </summary>
internal static class DbCommandExtensions
{
    public static DbCommand Add(this DbCommand command, string name, string? value) => command.Add(name, value, DbType.String);

    public static DbCommand Add(this DbCommand command, string name, long value) => command.Add(name, value, DbType.Int64);

    public static DbCommand Add(this DbCommand command, string name, long? value) => command.Add(name, value, DbType.Int64);

    public static DbCommand Add(this DbCommand command, string name, DateTimeOffset value) => command.Add(name, value.ToUnixTimeMilliseconds(), DbType.Int64);

    public static DbCommand Add(this DbCommand command, string name, DateTimeOffset? value) => command.Add(name, value?.ToUnixTimeMilliseconds(), DbType.Int64);

    public static DbCommand Add(this DbCommand command, string name, byte[]? value) => command.Add(name, value, DbType.Binary);

    private static DbCommand Add(this DbCommand command, string name, object? value, DbType type)
    {
        Set(command, command.Parameters, static c => c.CreateParameter(), name, value, type);
        return command;
    }

    // The same for a statement of a batch (DbBatchCommand: one statement, its own parameters).

    /// <summary>Adds a statement to the batch; set its parameters on what this returns.</summary>
    public static DbBatchCommand Add(this DbBatch batch, string sql)
    {
        DbBatchCommand command = batch.CreateBatchCommand();
        command.CommandText = sql;
        batch.BatchCommands.Add(command);
        return command;
    }

    public static DbBatchCommand Add(this DbBatchCommand command, string name, string? value) => command.Add(name, value, DbType.String);

    public static DbBatchCommand Add(this DbBatchCommand command, string name, DateTimeOffset value) => command.Add(name, value.ToUnixTimeMilliseconds(), DbType.Int64);

    public static DbBatchCommand Add(this DbBatchCommand command, string name, DateTimeOffset? value) => command.Add(name, value?.ToUnixTimeMilliseconds(), DbType.Int64);

    public static DbBatchCommand Add(this DbBatchCommand command, string name, byte[]? value) => command.Add(name, value, DbType.Binary);

    private static DbBatchCommand Add(this DbBatchCommand command, string name, object? value, DbType type)
    {
        Set(command, command.Parameters, static c => c.CreateParameter(), name, value, type);
        return command;
    }

    /// <summary>Sets the parameter, replacing one of the same name: a command reused for several statements.</summary>
    private static void Set<TCommand>(TCommand command, DbParameterCollection parameters, Func<TCommand, DbParameter> create, string name,
        object? value, DbType type)
    {
        if (!name.StartsWith('@'))
            throw new ArgumentException($"Parameter '{name}' needs its '@' prefix.", nameof(name));
        DbParameter parameter;
        int existing = parameters.IndexOf(name);
        if (existing >= 0)
        {
            parameter = parameters[existing];
        }
        else
        {
            parameter = create(command);
            parameter.ParameterName = name;
            parameters.Add(parameter);
        }

        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
    }

    /// <summary>Times are stored as Unix milliseconds (BIGINT) on both providers.</summary>
    public static DateTimeOffset GetTime(this DbDataReader reader, int ordinal) => DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static DateTimeOffset? GetTimeOrNull(this DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetTime(ordinal);

    public static string? GetStringOrNull(this DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static DbCommand CreateCommand(this DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        DbCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }
}
