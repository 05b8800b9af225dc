using System.Net;
using Latchkey.Accounts;
using Latchkey.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Latchkey.Tests.Accounts;

/// <summary>Bounded Argon2id concurrency: a login flood is refused fast instead of queueing every other request behind it.</summary>
public sealed class PasswordHashingGateTests
{
    private const string Password = "correct horse battery";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Gate_SlotsTaken_QueueWaitsAndTheRestAreRefusedAtOnce()
    {
        var gate = new PasswordHashingGate(new PasswordHashingOptions { MaxConcurrency = 1, MaxQueue = 1, MaxWait = TimeSpan.FromSeconds(10) });
        Assert.True(await gate.TryEnterAsync(Ct));

        Task<bool> queued = gate.TryEnterAsync(Ct);
        Assert.False(queued.IsCompleted);
        Assert.False(await gate.TryEnterAsync(Ct)); // the queue (1) is full: refused without waiting

        gate.Exit();
        Assert.True(await queued);
        gate.Exit();
        Assert.True(await gate.TryEnterAsync(Ct));
    }

    [Fact]
    public async Task Gate_WaitLongerThanMaxWait_IsRefused()
    {
        var gate = new PasswordHashingGate(new PasswordHashingOptions { MaxConcurrency = 1, MaxQueue = 4, MaxWait = TimeSpan.FromMilliseconds(50) });
        Assert.True(await gate.TryEnterAsync(Ct));

        Assert.False(await gate.TryEnterAsync(Ct));
    }

    [Fact]
    public void Gate_Defaults_OneSlotPerCoreAndFourWaitingPerSlot()
    {
        var gate = new PasswordHashingGate(new PasswordHashingOptions());

        Assert.Equal(Environment.ProcessorCount, gate.MaxConcurrency);
    }

    [Fact]
    public async Task RunAsync_RunsOffTheThreadPoolAtTheIdlePriority()
    {
        var gate = new PasswordHashingGate(new PasswordHashingOptions { MaxConcurrency = 2 });

        (bool poolThread, string? name, int? policy) = await gate.RunAsync(() =>
            (Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name, OperatingSystem.IsLinux() ? ThisThreadsPolicy() : (int?)null));

        Assert.False(poolThread);
        Assert.Equal("Password hashing", name);
        // SCHED_IDLE: any request thread that wakes up takes the core from a hash at once.
        if (OperatingSystem.IsLinux())
            Assert.Equal(PasswordHashingGate.SchedIdle, policy);
        Assert.Equal(0, ThisThreadsPolicy()); // the caller's thread is left as it was (SCHED_OTHER)
    }

    [Fact]
    public async Task RunAsync_IdlePriorityOff_RunsAtNice10Instead()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "thread priorities are set on Linux only");
        var gate = new PasswordHashingGate(new PasswordHashingOptions { MaxConcurrency = 1, IdlePriority = false });

        (int policy, int nice) = await gate.RunAsync(() => (ThisThreadsPolicy(), ThisThreadsNice()));

        Assert.Equal(0, policy); // SCHED_OTHER
        Assert.Equal(PasswordHashingGate.HashingNice, nice);
    }

    [Fact]
    public async Task RunAsync_HashThrows_TheCallerGetsTheExceptionAndTheThreadGoesOn()
    {
        var gate = new PasswordHashingGate(new PasswordHashingOptions { MaxConcurrency = 1 });

        await Assert.ThrowsAsync<FormatException>(() => gate.RunAsync<int>(() => throw new FormatException("bad hash")));

        Assert.Equal(42, await gate.RunAsync(() => 42));
    }

    /// <summary>Field 41, the scheduling policy, of /proc/thread-self/stat.</summary>
    private static int ThisThreadsPolicy() => ThisThreadsStatField(41);

    /// <summary>Field 19, the nice value, of /proc/thread-self/stat.</summary>
    private static int ThisThreadsNice() => ThisThreadsStatField(19);

    /// <summary>A numeric field of /proc/thread-self/stat (proc(5) numbers them from 1), counted after the parenthesised command name (field 2); 0 off Linux.</summary>
    private static int ThisThreadsStatField(int field)
    {
        if (!OperatingSystem.IsLinux())
            return 0;
        string stat = File.ReadAllText("/proc/thread-self/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[field - 3]);
    }

    [Fact]
    public async Task PasswordGrant_HashingAtCapacity_503TemporarilyUnavailableWithRetryAfterAndNoFailureCounted()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.PasswordHashing.MaxConcurrency = 1;
            o.PasswordHashing.MaxQueue = 0;
        });
        await server.AddUserAsync("alice", Password);
        var gate = server.Services.GetRequiredService<PasswordHashingGate>();
        Assert.True(await gate.TryEnterAsync(Ct)); // every slot busy, as under a flood

        for (int i = 0; i < 12; i++)
        {
            using HttpResponseMessage refused = await server.PostTokenAsync("alice", "a wrong password " + i);
            await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "temporarily_unavailable");
            Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        }

        gate.Exit();
        // Twelve refused guesses were never checked, so they did not count towards the lockout (10): the login works.
        await server.GetAccessTokenAsync("alice", Password);
    }
}
