using Latchkey.Accounts;
using Latchkey.Tests.Interop;

namespace Latchkey.Tests.Accounts;

/// <summary>Argon2id in PHC format, cross-checked in both directions against argon2-cffi (the reference C implementation).</summary>
public sealed class PasswordHasherTests
{
    private readonly PasswordHasher _hasher = new(new PasswordHashingOptions());

    [Fact]
    public void Hash_Defaults_UseOwaspParametersInPhcFormat()
    {
        string hash = _hasher.Hash("correct horse battery");

        Assert.StartsWith("$argon2id$v=19$m=19456,t=2,p=1$", hash);
        Assert.Equal(6, hash.Split('$').Length);
    }

    [Fact]
    public void Hash_SamePasswordTwice_UsesFreshSalts()
    {
        Assert.NotEqual(_hasher.Hash("same password"), _hasher.Hash("same password"));
    }

    [Fact]
    public void Verify_RightAndWrongPassword()
    {
        string hash = _hasher.Hash("correct horse battery");

        Assert.True(_hasher.Verify("correct horse battery", hash, out bool rehash));
        Assert.False(rehash);
        Assert.False(_hasher.Verify("correct horse batterY", hash, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a hash")]
    [InlineData("$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA")]
    [InlineData("$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA")]
    [InlineData("$argon2id$v=19$m=19456,t=2,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA")]
    [InlineData("$argon2id$v=19$m=-1,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA")]
    [InlineData("$argon2id$v=19$m=19456,t=2,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaA")]
    public void Verify_GarbageHash_IsFalseNotAnException(string hash)
    {
        Assert.False(_hasher.Verify("anything", hash, out _));
    }

    [Fact]
    public void Verify_HashWeakerThanCurrentParameters_AsksForRehash()
    {
        string old = _hasher.Hash("correct horse battery");
        var stronger = new PasswordHasher(new PasswordHashingOptions { Iterations = 3 });

        Assert.True(stronger.Verify("correct horse battery", old, out bool rehash));
        Assert.True(rehash);
    }

    [Fact]
    public async Task Hash_OurHash_VerifiesInArgon2Cffi()
    {
        string hash = _hasher.Hash("pässwörd ✓");

        string output = await DebianPython.RunAsync("""
            import sys, argon2
            print(argon2.PasswordHasher().verify(sys.argv[1], sys.argv[2]))
            """, hash, "pässwörd ✓");

        Assert.Equal("True", output);
    }

    [Fact]
    public async Task Verify_Argon2CffiHash_Verifies()
    {
        string hash = await DebianPython.RunAsync("""
            import sys, argon2
            print(argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16).hash(sys.argv[1]))
            """, "pässwörd ✓");

        Assert.True(_hasher.Verify("pässwörd ✓", hash, out bool rehash));
        Assert.False(rehash);
        Assert.False(_hasher.Verify("passwörd ✓", hash, out _));
    }
}
