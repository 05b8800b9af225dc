using System.CommandLine;
using Microsoft.Extensions.Configuration;

namespace Latchkey.Server.Cli;

/// <summary>Options every command shares, and the configuration they all read.</summary>
internal static class CommonOptions
{
    public static readonly Option<string?> DataDirectory = new("--data-dir")
    {
        Description = "The folder holding latchkey.db and master.key (default ./data; LATCHKEY__DATADIRECTORY).",
        Recursive = true,
    };

    public static readonly Option<string?> Database = new("--database")
    {
        Description = "PostgreSQL for several nodes: an Npgsql connection string or postgres:// URL (LATCHKEY__DATABASE). Default: SQLite in the data folder.",
        Recursive = true,
    };

    /// <summary>
    /// appsettings.json in the working folder, then <c>LATCHKEY__…</c> environment variables, then flags: later wins.
    /// </summary>
    public static IConfigurationBuilder Configuration(ParseResult parse, IDictionary<string, string?>? flags = null)
    {
        var values = new Dictionary<string, string?>(flags ?? new Dictionary<string, string?>());
        if (parse.GetValue(DataDirectory) is { } dataDirectory)
            values["Latchkey:DataDirectory"] = dataDirectory;
        if (parse.GetValue(Database) is { } database)
            values["Latchkey:Database"] = database;
        return new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Environment.CurrentDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .AddInMemoryCollection(values);
    }

    /// <summary>
    /// Says what is wrong when configuration text cannot be read at all: a malformed JSON file, or a value that does not
    /// convert to its setting's type (e.g. <c>AccessTokenLifetime=abc</c>). Null for any other exception, which is a bug.
    /// </summary>
    public static string? UnreadableConfiguration(Exception exception) => exception switch
    {
        InvalidDataException e => $"{e.Message} {Innermost(e).Message} Fix the JSON in that file.",
        InvalidOperationException e when e.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) =>
            $"{e.Message} Use a value of that type, e.g. 00:30:00 for a duration or 10 for a number.",
        _ => null,
    };

    private static Exception Innermost(Exception exception) => exception.InnerException is { } inner ? Innermost(inner) : exception;

    /// <summary>Prints a problem to stderr and returns the exit code for bad input or configuration.</summary>
    public static int Fail(string message)
    {
        Console.Error.WriteLine($"latchkey: {message}");
        return 2;
    }
}
