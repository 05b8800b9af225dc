namespace Latchkey.Server.Tests.Support;

/// <summary>
/// A fresh folder per test: <see cref="Root"/> is the working directory for the child process, <see cref="Data"/> the
/// data folder (not created; latchkey creates it). Deleted with everything in it on dispose.
/// </summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Root = Path.Combine(Path.GetTempPath(), "latchkey-server-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Data => Path.Combine(Root, "data");

    public string DatabasePath => Path.Combine(Data, "latchkey.db");

    public string MasterKeyPath => Path.Combine(Data, "master.key");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
