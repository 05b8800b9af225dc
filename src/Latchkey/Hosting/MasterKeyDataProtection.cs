using System.Text;
using Latchkey.Keys;
using Microsoft.AspNetCore.DataProtection;

namespace Latchkey.Hosting;

/// <summary>
/// ASP.NET Core Data Protection, which antiforgery uses for the hosted pages' forms, keyed by the master key (AES-256-GCM under
/// an HKDF-derived key, the purpose chain as associated data) instead of a key ring of its own: every node that shares the
/// database (and so the master key) reads every node's forms, and a form shown before a restart still works after it.
/// <c>AddLatchkey()</c> registers it unless the host configured Data Protection first, in which case the host's is used.
/// </summary>
internal sealed class MasterKeyDataProtection(MasterKeys masterKeys) : IDataProtectionProvider
{
    public IDataProtector CreateProtector(string purpose) => new Protector(masterKeys, purpose);

    private sealed class Protector(MasterKeys masterKeys, string purposes) : IDataProtector
    {
        public IDataProtector CreateProtector(string purpose) => new Protector(masterKeys, purposes + "\n" + purpose);

        public byte[] Protect(byte[] plaintext) => masterKeys.DataProtector.Protect(plaintext, purposes);

        /// <summary>Throws on anything this key and purpose did not protect, as Data Protection's contract says.</summary>
        public byte[] Unprotect(byte[] protectedData) =>
            masterKeys.DataProtector.Unprotect(protectedData, purposes) ??
            throw new System.Security.Cryptography.CryptographicException("The data was not protected by this server's master key for this purpose.");
    }
}
