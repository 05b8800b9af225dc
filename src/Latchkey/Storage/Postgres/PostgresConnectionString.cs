using Npgsql;

namespace Latchkey.Storage.Postgres;

/// <summary>Accepts what operators have at hand: an Npgsql connection string, or a <c>postgres://user:pass@host:port/db</c> URL.</summary>
public static class PostgresConnectionString
{
    /// <summary>True when <paramref name="value"/> names a PostgreSQL database (either form).</summary>
    public static bool IsPostgres(string? value) =>
        !string.IsNullOrWhiteSpace(value) && (IsUrl(value) || value.Contains("Host=", StringComparison.OrdinalIgnoreCase)
            || value.Contains("Server=", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Npgsql settings Latchkey changes unless the connection string sets them. <c>Max Auto Prepare=32</c>: the few
    /// statements every request repeats (a refresh-token rotation runs seven) are prepared once per connection instead of
    /// parsed and planned each time. <c>No Reset On Close=true</c>: a connection going back to the pool is not reset
    /// (<c>DISCARD ALL</c> or <c>RESET ALL</c> on its next use), because Latchkey never changes session state: no
    /// <c>SET</c>, no temporary tables, and its advisory locks end with their transaction. Both measured in bench/RESULTS.md.
    /// </summary>
    public static NpgsqlConnectionStringBuilder WithLatchkeyDefaults(string normalized)
    {
        var builder = new NpgsqlConnectionStringBuilder(normalized);
        // Npgsql's builder knows every keyword, set or not: ask the plain one which were written.
        var written = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = normalized };
        bool Sets(string keyword) => written.Keys.Cast<string>().Any(k => k.Replace(" ", "").Equals(keyword, StringComparison.OrdinalIgnoreCase));
        if (!Sets("MaxAutoPrepare"))
            builder.MaxAutoPrepare = 32;
        if (!Sets("NoResetOnClose"))
            builder.NoResetOnClose = true;
        return builder;
    }

    /// <summary>The Npgsql connection string for either form; throws <see cref="FormatException"/> with the reason otherwise.</summary>
    public static string Normalize(string value)
    {
        if (!IsUrl(value))
        {
            try
            {
                return new NpgsqlConnectionStringBuilder(value).ConnectionString;
            }
            catch (ArgumentException e)
            {
                throw new FormatException($"not a valid Npgsql connection string ({e.Message})");
            }
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) || string.IsNullOrEmpty(uri.Host))
            throw new FormatException("not a valid postgres:// URL (expected postgres://user:password@host:port/database)");
        var builder = new NpgsqlConnectionStringBuilder { Host = uri.Host.Trim('[', ']') };
        if (uri.Port > 0)
            builder.Port = uri.Port;
        string database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
            builder.Database = database;
        if (uri.UserInfo.Length > 0)
        {
            string[] parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2)
                builder.Password = Uri.UnescapeDataString(parts[1]);
        }

        // Query parameters (?sslmode=require&…) are Npgsql keywords; an unknown one fails here, not silently.
        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=', 2);
            try
            {
                builder[Uri.UnescapeDataString(kv[0])] = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            }
            catch (ArgumentException e)
            {
                throw new FormatException($"the URL parameter '{Uri.UnescapeDataString(kv[0])}' is not one Npgsql knows ({e.Message})");
            }
        }

        return builder.ConnectionString;
    }

    private static bool IsUrl(string value) =>
        value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase);
}
