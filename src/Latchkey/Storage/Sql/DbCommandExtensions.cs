using System.Data;
using System.Data.Common;

namespace Latchkey.Storage.Sql;

/// <summary>
/// Parameters the way both providers read them: named <c>@name</c> as in the SQL, prefix included, and nulls typed
/// (PostgreSQL must know a null's type). Microsoft.Data.Sqlite looks a parameter up in each statement of a command by its
/// name; a name without its prefix costs three more lookups per statement (':', '@' and '$' in turn, each a native call
/// with the name converted to UTF-8), a share of every refresh-token rotation's CPU that bench/ measured. Npgsql strips
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

    /// <summary>Sets the parameter, replacing one of the same name: a command reused for several statements.</summary>
    private static DbCommand Add(this DbCommand command, string name, object? value, DbType type)
    {
        if (!name.StartsWith('@'))
            throw new ArgumentException($"Parameter '{name}' needs its '@' prefix.", nameof(name));
        DbParameter parameter;
        int existing = command.Parameters.IndexOf(name);
        if (existing >= 0)
        {
            parameter = command.Parameters[existing];
        }
        else
        {
            parameter = command.CreateParameter();
            parameter.ParameterName = name;
            command.Parameters.Add(parameter);
        }

        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
        return command;
    }

    /// <summary>
    /// Appends <paramref name="command"/>'s statement to <paramref name="batch"/>, with its parameters as they are set
    /// now: the statement's parameters are set once, on a command, for both ways of running it.
    /// </summary>
    public static void Add(this DbBatch batch, DbCommand command)
    {
        DbBatchCommand statement = batch.CreateBatchCommand();
        statement.CommandText = command.CommandText;
        foreach (DbParameter parameter in command.Parameters)
        {
            DbParameter copy = statement.CreateParameter();
            copy.ParameterName = parameter.ParameterName;
            copy.DbType = parameter.DbType;
            copy.Value = parameter.Value;
            statement.Parameters.Add(copy);
        }

        batch.BatchCommands.Add(statement);
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
