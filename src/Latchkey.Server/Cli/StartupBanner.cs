using System.Text;
using Latchkey.Keys;
using Latchkey.Storage;
using Latchkey.Storage.Sql;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Server.Cli;

/// <summary>
/// What <c>latchkey serve</c> prints to stdout once it listens: where, as which issuer, on which data, signing with
/// which key, and what to do next. Written directly rather than logged, so it reads the same whatever the log settings.
/// </summary>
internal static class StartupBanner
{
    /// <param name="asLogEvent">
    /// With <c>--log-format json</c> stdout must stay one JSON object a line for log shippers: the same facts then go out
    /// as one structured log event instead of a text block.
    /// </param>
    public static async Task PrintAsync(WebApplication app, bool asLogEvent, CancellationToken cancellationToken)
    {
        LatchkeyOptions options = app.Services.GetRequiredService<IOptions<LatchkeyOptions>>().Value;
        // The bound addresses, with real ports when --urls asked for port 0.
        string[] addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
        SigningKey key = app.Services.GetRequiredService<SigningKeyRing>().Current;
        SqlDatabase db = app.Services.GetRequiredService<SqlDatabase>();
        string database = db is Storage.Sqlite.SqliteDatabase ? db.Location : $"{db.Provider} {db.Location}";
        bool anyUsers = (await app.Services.GetRequiredService<IUserStore>().ListAsync(cancellationToken)).Count > 0;
        string banner = Format(addresses, options.Issuer!, Path.GetFullPath(options.DataDirectory), database, key.Algorithm, key.KeyId, anyUsers,
            IsDefaultDataDirectory(options.DataDirectory) ? null : options.DataDirectory);
        if (asLogEvent)
        {
            app.Logger.LogInformation(new EventId(4100, "Started"),
                "Latchkey is running on {Addresses} as issuer {Issuer}, database {Database}, signing with {Algorithm} key {KeyId}; users: {AnyUsers}. {Banner}",
                string.Join(" ", addresses), options.Issuer, database, key.Algorithm, key.KeyId, anyUsers, banner.Trim());
            return;
        }

        Console.Write(banner);
    }

    internal static string Format(IReadOnlyList<string> addresses, string issuer, string dataFolder, string database, string algorithm, string keyId,
        bool anyUsers, string? dataDirectoryArgument)
    {
        string dataDir = dataDirectoryArgument is null ? "" : $" --data-dir {dataDirectoryArgument}";
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine("Latchkey is running.");
        foreach (string address in addresses)
            text.AppendLine($"  Listening on:  {address}");
        text.AppendLine($"  Issuer:        {issuer}");
        text.AppendLine($"  Data folder:   {dataFolder}");
        text.AppendLine($"  Database:      {database}");
        text.AppendLine($"  Signing:       {algorithm}, key id {keyId}");
        text.AppendLine($"  Discovery:     {issuer.TrimEnd('/')}/.well-known/openid-configuration");
        if (!anyUsers)
            text.AppendLine($"Next: No users yet: run `latchkey users add NAME --role admin{dataDir}` (it asks for the password).");
        else
            text.AppendLine($"Next: Get a token: curl -u NAME {Local(addresses.FirstOrDefault() ?? issuer)}/token");
        text.AppendLine("Stop with Ctrl+C.");
        text.AppendLine();
        return text.ToString();
    }

    /// <summary>A wildcard listen address is reached through localhost.</summary>
    private static string Local(string address) =>
        address.Replace("://0.0.0.0", "://localhost").Replace("://[::]", "://localhost").Replace("://*", "://localhost").Replace("://+", "://localhost").TrimEnd('/');

    private static bool IsDefaultDataDirectory(string dataDirectory) =>
        Path.GetFullPath(dataDirectory) == Path.GetFullPath(new LatchkeyOptions().DataDirectory);
}
