using System.CommandLine;
using Latchkey.Accounts;
using Latchkey.Clients;
using Latchkey.Storage.Sql;
using Latchkey.Storage.Sqlite;
using Microsoft.Extensions.Configuration;

namespace Latchkey.Server.Cli;

/// <summary>
/// What the admin commands work with: the same stores and rules as the server, on the same data folder,
/// with the schema brought up to date first. Safe while servers run (SQLite WAL with a busy timeout; PostgreSQL transactions).
/// A data folder that cannot be used throws <see cref="LatchkeyStartupException"/> saying what to do.
/// </summary>
internal sealed class AdminServices : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    private AdminServices(ServiceProvider provider) => _provider = provider;

    public UserAccounts Accounts => _provider.GetRequiredService<UserAccounts>();

    public ClientAccounts Clients => _provider.GetRequiredService<ClientAccounts>();

    public Consents Consents => _provider.GetRequiredService<Consents>();

    public Keys.KeyRotation Keys => _provider.GetRequiredService<Keys.KeyRotation>();

    public Audit.AuditTrail Audit => _provider.GetRequiredService<Audit.AuditTrail>();

    public SqlDatabase Database => _provider.GetRequiredService<SqlDatabase>();

    /// <summary>Opens the data folder, or reports (exit code 2) why it cannot: unreadable configuration, an unusable folder, a newer schema.</summary>
    public static async Task<AdminServices?> TryOpenAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        try
        {
            return await OpenAsync(parse, cancellationToken);
        }
        catch (Exception e) when (CommonOptions.UnreadableConfiguration(e) is { } unreadable)
        {
            CommonOptions.Fail(unreadable);
            return null;
        }
        catch (LatchkeyStartupException e)
        {
            CommonOptions.Fail(e.Message);
            return null;
        }
    }

    public static async Task<AdminServices> OpenAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        IConfiguration configuration = CommonOptions.Configuration(parse).Build();
        var services = new ServiceCollection();
        services.AddOptions<LatchkeyOptions>().Bind(configuration.GetSection(LatchkeyOptions.SectionName));
        // No log providers: the CLI prints its own messages; audit rows still go to the database.
        services.AddLogging();
        services.AddLatchkeyCore();
        ServiceProvider provider = services.BuildServiceProvider();

        var database = provider.GetRequiredService<SqlDatabase>();
        try
        {
            if (database is SqliteDatabase sqlite)
            {
                string folder = Path.GetDirectoryName(sqlite.Path)!;
                try
                {
                    Directory.CreateDirectory(folder);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new LatchkeyStartupException(
                        $"The data folder {folder} cannot be created ({e.Message}). Choose another with --data-dir, or fix its permissions.");
                }
            }

            await database.MigrateAsync(cancellationToken);
            return new AdminServices(provider);
        }
        catch
        {
            await provider.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => _provider.DisposeAsync();
}
