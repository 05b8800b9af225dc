using System.CommandLine;
using Latchkey.Server.Cli;

// The `latchkey` executable: `serve` runs the token service; the other commands administer its data,
// whether or not a server is running on it.
var root = new RootCommand("Latchkey: password login → signed JWT access tokens, verifiable offline from a JWKS.");
root.Options.Add(CommonOptions.DataDirectory);
root.Options.Add(CommonOptions.Database);
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(UsersCommand.Create());
root.Subcommands.Add(ClientsCommand.Create());
root.Subcommands.Add(KeysCommand.Create());
root.Subcommands.Add(TokenCommand.Create());
root.Subcommands.Add(AuditCommand.Create());
root.Subcommands.Add(DbCommand.Create());
return await root.Parse(args).InvokeAsync();
