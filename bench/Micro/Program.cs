// Micro benchmarks of issue #6: create and validate an access token per algorithm, three ways:
//   Latchkey       the server's own path (AccessTokenIssuer / AccessTokenValidator), and the public Jwt.Encode/Decode
//   IdentityModel  Microsoft.IdentityModel.JsonWebTokens' JsonWebTokenHandler (no EdDSA: it has none)
//   Raw            the primitive alone, on the same bytes (the baseline of each table: Ratio is relative to it)
// Short jobs, in process, with allocations. Run with bench/micro.sh (pinned to one core), or:
//   dotnet run -c Release --project bench/Micro -- --filter '*'
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

IConfig config = DefaultConfig.Instance
    .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
    .AddDiagnoser(MemoryDiagnoser.Default)
    // Microsoft.IdentityModel has no EdDSA: those cases are left out, not measured as failures.
    .AddFilter(new SimpleFilter(b => !(b.Descriptor.WorkloadMethod.Name.StartsWith("IdentityModel", StringComparison.Ordinal) &&
                                       b.Parameters["Algorithm"] is "EdDSA")));
BenchmarkSwitcher.FromAssembly(typeof(Latchkey.Bench.Micro.CreateToken).Assembly).Run(args, config);
