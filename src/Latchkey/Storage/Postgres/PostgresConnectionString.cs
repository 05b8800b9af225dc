using System.Net;
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
    /// Npgsql settings Latchkey changes unless the connection string sets them. <c>SSL Mode=VerifyFull</c> when any host is
    /// not on this machine: Npgsql's own default (<c>Prefer</c>) falls back to plain text and never checks the certificate,
    /// so anyone on the network path could read the traffic (password hashes, refresh-token hashes, sealed keys) or pose as
    /// the database; VerifyFull checks the chain and that the certificate names the host (RFC 9525 §6). Loopback hosts and
    /// Unix sockets keep Npgsql's default: that traffic does not leave the machine. <c>Max Auto Prepare=32</c>: the few
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
        if (!Sets("SslMode") && !IsLoopback(builder.Host))
            builder.SslMode = SslMode.VerifyFull;
        return builder;
    }

    /// <summary>
    /// The start-up warning for a connection string that asks, to a host that is not on this machine, for a TLS mode weaker
    /// than <c>VerifyFull</c>: it names the mode, the host and the fix, never the password. Null when there is nothing to say,
    /// or when <paramref name="database"/> is not a valid PostgreSQL connection (the options validator says that).
    /// </summary>
    public static string? WeakTlsWarning(string? database)
    {
        if (!IsPostgres(database))
            return null;
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = WithLatchkeyDefaults(Normalize(database!));
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            return null;
        }

        if (builder.SslMode == SslMode.VerifyFull || IsLoopback(builder.Host))
            return null;
        string risk = builder.SslMode switch
        {
            SslMode.Disable => "never encrypts: anyone on the network path can read and change the traffic, the database password included",
            SslMode.Allow or SslMode.Prefer => "falls back to plain text whenever TLS is refused (an attacker on the path can refuse it) and never checks the server's certificate",
            SslMode.Require => "encrypts but never checks the server's certificate: anyone on the network path can pose as the database",
            _ => "checks that the certificate comes from a trusted CA but not that it names this host: any other server with a certificate from that CA can pose as the database",
        };
        return $"The PostgreSQL connection to {builder.Host} sets SSL Mode={builder.SslMode}, which {risk}. Remove the setting or set " +
               "SSL Mode=VerifyFull (in a postgres:// URL: sslmode=verify-full); if the server's certificate is not from a CA this machine " +
               "trusts, also give that CA: Root Certificate=/etc/latchkey/db-ca.pem (URL: sslrootcert=/etc/latchkey/db-ca.pem).";
    }

    /// <summary>
    /// True when every host (Npgsql takes a comma-separated list, each with an optional <c>:port</c>) is on this machine:
    /// <c>localhost</c>, 127.0.0.0/8, <c>::1</c>, or a Unix socket folder (a path starting with '/'). No host at all is left
    /// to Npgsql, which refuses it.
    /// </summary>
    internal static bool IsLoopback(string? hosts)
    {
        if (string.IsNullOrWhiteSpace(hosts))
            return true;
        foreach (string entry in hosts.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (entry.StartsWith('/'))
                continue;
            // [v6]:port, name:port, v4:port; a bare IPv6 address has more than one ':' and no port.
            string host = entry.StartsWith('[') && entry.IndexOf(']') is > 0 and int end ? entry[1..end]
                : entry.Count(c => c == ':') == 1 ? entry[..entry.IndexOf(':')]
                : entry;
            if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
                continue;
            if (!IPAddress.TryParse(host, out IPAddress? address))
                return false;
            if (!IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address))
                return false;
        }

        return true;
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

        // Query parameters (?sslmode=require&…) are Npgsql keywords, or libpq's names for the TLS ones; an unknown one fails
        // here, not silently.
        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=', 2);
            string key = Uri.UnescapeDataString(kv[0]);
            string parameter = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            try
            {
                // libpq spells the modes verify-full and verify-ca; Npgsql's SslMode is VerifyFull and VerifyCA.
                if (key.Equals("sslmode", StringComparison.OrdinalIgnoreCase))
                    parameter = parameter.Replace("-", "", StringComparison.Ordinal);
                builder[LibpqKeywords.GetValueOrDefault(key, key)] = parameter;
            }
            catch (ArgumentException e)
            {
                throw new FormatException($"the URL parameter '{key}' is not one Npgsql knows ({e.Message})");
            }
        }

        return builder.ConnectionString;
    }

    /// <summary>libpq's URL parameters for TLS (what a cloud console's postgres:// URL holds) that Npgsql names otherwise.</summary>
    private static readonly Dictionary<string, string> LibpqKeywords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sslrootcert"] = "Root Certificate",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["sslpassword"] = "SSL Password",
    };

    private static bool IsUrl(string value) =>
        value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase);
}
