using System.CommandLine;

namespace Latchkey.Server.Cli;

/// <summary>
/// <c>latchkey db migrate|status</c>. Servers migrate at start too; running it first (once, before a rolling upgrade of
/// several nodes) keeps the schema change out of any node's start-up.
/// </summary>
internal static class DbCommand
{
    public static Command Create()
    {
        var db = new Command("db", "Manage the database schema.");

        var migrate = new Command("migrate", "Create or upgrade the schema to this version's (a no-op when it is current).");
        migrate.SetAction(async (parse, ct) =>
        {
            // Opening the admin services migrates; it refuses a schema newer than this build, saying so.
            if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
                return 2;
            await using var _ = admin;
            Console.WriteLine($"The {admin.Database.Provider} database {admin.Database.Location} is at schema version " +
                              $"{await admin.Database.GetSchemaVersionAsync(ct)} (this Latchkey's: {admin.Database.LatestSchemaVersion}).");
            return 0;
        });

        db.Subcommands.Add(migrate);
        return db;
    }
}
