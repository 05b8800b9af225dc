using System.Security.Cryptography;

namespace Latchkey.Keys;

/// <summary>
/// The 32-byte key that encrypts signing keys at rest. It never goes into the database: it comes from
/// configuration (<c>Latchkey:MasterKey</c>, base64) or from <c>master.key</c> beside the database, created with
/// owner-only permissions on first start. A database copied without it yields no usable private key.
/// </summary>
public static class MasterKey
{
    public const string FileName = "master.key";
    public const int Length = 32;

    /// <summary>Reads the master key, creating <c>master.key</c> only when no signing key exists yet.</summary>
    /// <param name="created">True when a new key file was written.</param>
    public static byte[] Load(LatchkeyOptions options, bool signingKeysExist, out bool created, out string source)
    {
        created = false;
        if (!string.IsNullOrWhiteSpace(options.MasterKey))
        {
            source = "the Latchkey:MasterKey setting";
            return Decode(options.MasterKey, source);
        }

        if (!string.IsNullOrWhiteSpace(options.Database))
            // Nodes sharing a database must share this key; a file one node made for itself would not be shared.
            throw new LatchkeyStartupException(
                "With PostgreSQL, set the master key on every node: Latchkey:MasterKey (LATCHKEY__MASTERKEY), the same on all. " +
                "Generate it once with: openssl rand -base64 32");

        string path = Path.GetFullPath(Path.Combine(options.DataDirectory, FileName));
        source = path;
        if (File.Exists(path))
            return Decode(File.ReadAllText(path).Trim(), path);

        if (signingKeysExist)
            // Making a fresh key here would only hide the problem: the stored keys stay undecryptable.
            throw new LatchkeyStartupException(
                $"The master key file {path} is missing, but the database holds encrypted signing keys. " +
                "Restore master.key from the backup taken with this database, or set Latchkey:MasterKey (LATCHKEY__MASTERKEY).");

        byte[] key = RandomNumberGenerator.GetBytes(Length);
        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var writer = new StreamWriter(path, fileOptions))
            writer.WriteLine(Convert.ToBase64String(key));
        created = true;
        return key;
    }

    private static byte[] Decode(string base64, string source)
    {
        try
        {
            byte[] key = Convert.FromBase64String(base64);
            if (key.Length == Length)
                return key;
        }
        catch (FormatException)
        {
        }

        throw new LatchkeyStartupException(
            $"The master key from {source} is not {Length} bytes of base64. Generate one with: openssl rand -base64 32");
    }
}
