using System.Data;
using System.Data.Common;

namespace Latchkey.Storage.Sql;

/// <summary>Parameters the way both providers read them: <c>@name</c>, nulls typed (PostgreSQL must know a null's type).</summary>
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
